/**
 * Which Host names the servers answer to (DNS rebinding).
 *
 * A web page can make a browser send requests to 127.0.0.1 under a name the
 * attacker controls (`rebind.example` resolving to 127.0.0.1): same origin
 * for the page, so it could read the answers. The embedded backend (API and
 * site ports) and the dashboard server therefore refuse every Host name that
 * is not the machine's own: IP literals, `localhost` and `*.localhost`, plus
 * the names in KEYHOLE_ALLOWED_HOSTS / --allowed-hosts (for a deployment
 * behind a proxy; `*` turns the check off) and the host names of
 * CONVEX_SITE_URL / SITE_URL. Convex itself answers for a deployment only
 * under that deployment's own host names (get-convex/convex-backend:
 * crates/common/src/http/mod.rs, `resolve_convex_domain`). CORS on the API
 * port is unchanged: as on Convex, the official clients call it from any
 * origin, and the Host check is what keeps rebound names out.
 */
import net from "node:net";

export type HostPolicy = {
  /** Whether a request with this Host header is served. */
  allows(hostHeader: string | undefined): boolean;
  /** The configured names (for messages and for Vite's allowedHosts). */
  readonly names: readonly string[];
};

/** The host name of a Host header (port and IPv6 brackets removed), lower-cased; null when malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end === -1 || (end + 1 < h.length && !/^:\d+$/.test(h.slice(end + 1)))) return null;
    return h.slice(1, end);
  }
  const colon = h.lastIndexOf(":");
  if (colon !== -1 && h.indexOf(":") === colon) {
    if (!/^\d+$/.test(h.slice(colon + 1))) return null;
    return h.slice(0, colon);
  }
  return colon === -1 && h.length > 0 ? h : null;
}

/** KEYHOLE_ALLOWED_HOSTS-style list: comma-separated names, `*.domain` wildcards, `*` for any. */
export function parseHostList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

export function hostPolicy(names: string[]): HostPolicy {
  const list = [...new Set(names.map((n) => n.toLowerCase()))];
  const any = list.includes("*");
  const allows = (header: string | undefined): boolean => {
    if (any) return true;
    if (typeof header !== "string") return false;
    const name = hostName(header);
    if (name === null) return false;
    if (net.isIP(name) !== 0 || name === "localhost" || name.endsWith(".localhost")) return true;
    return list.some((n) => (n.startsWith("*.") ? name.endsWith(n.slice(1)) : name === n));
  };
  return { allows, names: list };
}

/** The host names of URLs the deployment is reached under (CONVEX_SITE_URL, SITE_URL). */
export function urlHostNames(urls: Array<string | undefined>): string[] {
  const out: string[] = [];
  for (const u of urls) {
    try {
      if (u) out.push(new URL(u).hostname.replace(/^\[|\]$/g, ""));
    } catch {
      /* not a URL: nothing to allow */
    }
  }
  return out;
}

export const HOST_REFUSED = "Blocked request: this Host name is not allowed (add it to KEYHOLE_ALLOWED_HOSTS).\n";
