/**
 * Where the backend is. One mechanism, resolved once at boot:
 *   1. `VITE_CONVEX_URL` baked in by Vite (`npm start` runs the dev server with it;
 *      or `VITE_CONVEX_URL=… npx vite build`);
 *   2. otherwise `/config.json`, served next to index.html by whoever serves
 *      web/dist (tests write their own):
 *        {"convexUrl": "http://127.0.0.1:3210", "githubSignIn": false}
 *   3. otherwise the embedded backend's default, http://127.0.0.1:3210.
 * `githubSignIn` (or `VITE_GITHUB_SIGN_IN=true`) shows "Sign in with GitHub";
 * set it when the backend has AUTH_GITHUB_ID / AUTH_GITHUB_SECRET.
 * The URL is never taken from the page's own address.
 */
export type DashboardConfig = {
  convexUrl: string;
  githubSignIn: boolean;
};

export const DEFAULT_CONVEX_URL = "http://127.0.0.1:3210";

function httpUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0) return null;
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return value.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

export function resolveConfig(
  fileConfig: unknown,
  env: { VITE_CONVEX_URL?: string; VITE_GITHUB_SIGN_IN?: string },
): DashboardConfig {
  const file = (typeof fileConfig === "object" && fileConfig !== null ? fileConfig : {}) as Record<string, unknown>;
  return {
    convexUrl: httpUrl(env.VITE_CONVEX_URL) ?? httpUrl(file.convexUrl) ?? DEFAULT_CONVEX_URL,
    githubSignIn: file.githubSignIn === true || env.VITE_GITHUB_SIGN_IN === "true",
  };
}

export async function loadConfig(): Promise<DashboardConfig> {
  const env = import.meta.env as { VITE_CONVEX_URL?: string; VITE_GITHUB_SIGN_IN?: string };
  let file: unknown = null;
  if (!env.VITE_CONVEX_URL) {
    try {
      const res = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
      if (res.ok && (res.headers.get("content-type") ?? "").includes("json")) file = await res.json();
    } catch {
      // No config file: fall through to the default.
    }
  }
  return resolveConfig(file, env);
}
