// Shared pieces of the reliability and security suite (test/stress/).
//
// `Recorder` sees everything a stress test exchanges with the embedded
// backend: every HTTP response (status, headers that matter, body) from both
// ports, every WebSocket message the server sends, and the backend's
// stdout/stderr. Tests register every secret they are issued, with the
// responses that may legitimately carry it (the one that issued it). At the
// end each file saves its capture; leak-scan.test.ts searches them all.
import { ERROR_CODES } from "../../convex/model/errors";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";

export type SecretKind =
  | "pat"
  | "agent-token"
  | "agent-refresh"
  | "signin-token"
  | "signin-refresh"
  | "oauth-state"
  | "oauth-code"
  | "oauth-access"
  | "oauth-refresh"
  | "oauth-id-token"
  | "oauth-binding"
  | "oauth-client-secret"
  | "signing-key"
  | "encryption-key"
  | "password";

export interface Secret {
  kind: SecretKind;
  value: string;
  /** Response labels allowed to carry it (the issuing call). */
  allowed: string[];
}

export interface Captured {
  label: string;
  status: number;
  text: string;
}

export interface Capture {
  file: string;
  secrets: Secret[];
  responses: Captured[];
  logs: string[];
}

/** Function paths and routes whose responses hand out a secret on purpose. */
export const ISSUERS = {
  pat: ["auth:createApiToken", "POST /api/pats"],
  agent: ["auth:createSession", "auth:refreshSession", "POST /api/sessions", "POST /api/sessions/refresh"],
  signin: ["auth:signIn"],
  oauthState: ["auth:initiateOAuth", "GET /oauth/start"],
  oauthAccess: ["oauth:getConnectionToken"],
} as const;

const HEADERS_KEPT = ["location", "www-authenticate", "set-cookie", "content-type"];

function labelFor(url: URL, method: string, body: unknown): string {
  if (typeof body === "string" && /\/api\/(query|mutation|action|function)$/.test(url.pathname)) {
    try {
      const p = (JSON.parse(body) as { path?: unknown }).path;
      if (typeof p === "string") return p.replace(/\.js:/, ":").replace(/:default$/, "");
    } catch {
      /* not JSON: fall through */
    }
  }
  // Route label without ids/names, e.g. "GET /oauth/start" for /oauth/start/oauth2.
  const route = url.pathname.startsWith("/oauth/start")
    ? "/oauth/start"
    : url.pathname.startsWith("/oauth/callback")
      ? "/oauth/callback"
      : url.pathname;
  return `${method.toUpperCase()} ${route}`;
}

export class Recorder {
  readonly responses: Captured[] = [];
  readonly secrets: Secret[] = [];
  readonly logs: string[] = [];

  constructor(readonly file: string) {}

  /** A fetch that records the response (use it for every request to the backend). */
  readonly fetch: typeof globalThis.fetch = async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const url = new URL(req.url);
    const res = await globalThis.fetch(input, init);
    const text = await res.clone().text();
    const headers = HEADERS_KEPT.map((h) => res.headers.get(h))
      .filter((v): v is string => v !== null)
      .join("\n");
    this.responses.push({ label: labelFor(url, req.method, init?.body), status: res.status, text: `${headers}\n${text}` });
    return res;
  };

  /** ConvexHttpClient whose responses are recorded. */
  httpClient(url: string, token?: string): ConvexHttpClient {
    const c = new ConvexHttpClient(url, { logger: false, fetch: this.fetch });
    if (token) c.setAuth(token);
    return c;
  }

  /** ConvexClient (WebSocket) whose incoming messages are recorded. */
  client(url: string): ConvexClient {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const rec = this;
    class RecordingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        this.addEventListener("message", (e) => rec.responses.push({ label: "ws", status: 101, text: String(e.data) }));
      }
    }
    return new ConvexClient(url, {
      webSocketConstructor: RecordingWebSocket as unknown as typeof globalThis.WebSocket,
      logger: false,
      unsavedChangesWarning: false,
    });
  }

  secret(kind: SecretKind, value: string | null | undefined, allowed: readonly string[] = []): void {
    if (value) this.secrets.push({ kind, value, allowed: [...allowed] });
  }

  addLogs(text: string): void {
    this.logs.push(text);
  }

  /** Writes this file's capture for the leak scan. */
  save(): void {
    const dir = captureDir();
    mkdirSync(dir, { recursive: true });
    const capture: Capture = { file: this.file, secrets: this.secrets, responses: this.responses, logs: this.logs };
    writeFileSync(join(dir, `${this.file.replace(/[^a-z0-9-]/gi, "_")}.json`), JSON.stringify(capture), { mode: 0o600 });
  }
}

export function captureDir(): string {
  let dir: string | undefined;
  try {
    dir = inject("stressCaptureDir");
  } catch {
    dir = undefined;
  }
  return dir ?? join(tmpdir(), "keyhole-stress-capture");
}

export function loadCaptures(): Capture[] {
  const dir = captureDir();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Capture);
}

/** What to search for: the secret, and for a JWT its signature alone. */
export function needles(value: string): string[] {
  const parts = value.split(".");
  if (parts.length === 3 && parts[2]!.length >= 20) return [value, parts[2]!];
  return [value];
}

export interface Leak {
  kind: SecretKind;
  where: string;
  /** Only a short prefix of the secret, never the secret itself. */
  hint: string;
}

const WINDOW = 16;

/**
 * Every place a secret shows up where it must not. Exact substring search for
 * all secrets at once: secrets are indexed by their first WINDOW characters,
 * every position of every text is looked up (then confirmed in full), so the
 * cost is linear in the text captured, not texts × secrets.
 */
export function findLeaks(captures: Capture[]): Leak[] {
  const leaks: Leak[] = [];
  const secrets = captures.flatMap((c) => c.secrets);
  const byPrefix = new Map<string, Array<{ needle: string; secret: Secret }>>();
  const short: Array<{ needle: string; secret: Secret }> = [];
  for (const secret of secrets) {
    for (const needle of needles(secret.value)) {
      if (needle.length < WINDOW) {
        short.push({ needle, secret });
        continue;
      }
      const key = needle.slice(0, WINDOW);
      const list = byPrefix.get(key) ?? [];
      list.push({ needle, secret });
      byPrefix.set(key, list);
    }
  }
  const search = (text: string, where: string, label: string | null) => {
    const hit = (needle: string, secret: Secret) => {
      if (label !== null && secret.allowed.includes(label)) return;
      leaks.push({ kind: secret.kind, where, hint: secret.value.slice(0, 6) });
    };
    for (let i = 0; i + WINDOW <= text.length; i++) {
      const list = byPrefix.get(text.slice(i, i + WINDOW));
      if (!list) continue;
      for (const { needle, secret } of list) if (text.startsWith(needle, i)) hit(needle, secret);
    }
    for (const { needle, secret } of short) if (text.includes(needle)) hit(needle, secret);
  };
  for (const c of captures) {
    for (const log of c.logs) search(log, `log of ${c.file}`, null);
    for (const r of c.responses) search(r.text, `response to ${r.label} (${r.status}) in ${c.file}`, r.label);
  }
  return leaks;
}

// ---- people, orgs, tokens -----------------------------------------------------------

export const PASSWORD = "correct horse battery staple 42";

/** A real password sign-up; the session's tokens are registered as secrets. */
export async function signUp(rec: Recorder, url: string, email: string) {
  const client = rec.httpClient(url);
  const res = (await client.action(api.auth.signIn, {
    provider: "password",
    params: { email, password: PASSWORD, flow: "signUp" },
  })) as { tokens?: { token: string; refreshToken: string } | null };
  if (!res.tokens) throw new Error(`sign-up of ${email} returned no tokens`);
  rec.secret("signin-token", res.tokens.token, ISSUERS.signin);
  rec.secret("signin-refresh", res.tokens.refreshToken, ISSUERS.signin);
  client.setAuth(res.tokens.token);
  return { client, email, token: res.tokens.token };
}

/** Runs `jobs` with at most `n` at a time. */
export async function pool<T>(n: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, jobs.length) }, async () => {
      for (let i = next++; i < jobs.length; i = next++) out[i] = await jobs[i]!();
    }),
  );
  return out;
}

/**
 * The seed of every random choice in the stress files. Fixed by default so a
 * CI run is repeatable (a red run is a bug, never bad luck); `STRESS_SEED=<n>`
 * replays a run, `STRESS_SEED=random` explores new inputs.
 */
export const SEED =
  process.env.STRESS_SEED === "random" ? Date.now() % 1_000_000 : Number(process.env.STRESS_SEED ?? 215_538);

/** A small seeded PRNG (mulberry32) so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The error code of a ConvexError thrown by a client call, or null. */
export function codeOf(e: unknown): string | null {
  const data = (e as { data?: unknown })?.data;
  if (data && typeof data === "object" && "code" in data) return String((data as { code: unknown }).code);
  return null;
}

export const USER_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Server errors among recorded responses: any status >= 500 except the
 * Convex protocol's 560 ("the function threw") when what it threw is a
 * ConvexError with one of keyhole's codes — or, when `allowValidation`,
 * Convex's own argument validation.
 */
export function serverErrors(responses: Captured[], opts: { allowValidation?: boolean } = {}): Captured[] {
  return responses.filter((r) => {
    if (r.status < 500) return false;
    if (r.status !== 560) return true;
    const body = r.text.slice(r.text.indexOf("{"));
    try {
      const j = JSON.parse(body) as { errorData?: { code?: string }; errorMessage?: string };
      if (j.errorData?.code && USER_CODES.has(j.errorData.code)) return false;
      if (opts.allowValidation && /ArgumentValidationError|Value does not match validator|Object is missing the required field|Object contains extra field/.test(j.errorMessage ?? "")) {
        return false;
      }
    } catch {
      /* not JSON: a server error */
    }
    return true;
  });
}
