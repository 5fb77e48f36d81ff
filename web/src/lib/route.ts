import { useEffect, useState } from "react";

/**
 * The app routes by hash: `#/tokens`, `#/tokens/<tokenId>` (a token's detail
 * view), `#/audit?token=<tokenId>` (the audit log filtered to one token).
 */
export type Route = { section: string; id: string | null; params: URLSearchParams };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [path, query] = [raw.split("?")[0], raw.includes("?") ? raw.slice(raw.indexOf("?") + 1) : ""];
  const [section, id] = path.split("/");
  return { section: section ?? "", id: id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null, params: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
