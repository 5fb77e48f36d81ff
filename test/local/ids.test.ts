// Unguessable document ids (local/ids.ts), played as an attacker:
// - with convex-test's counter ids, one sign-up of one's own revealed the
//   neighbours' @convex-dev/auth refresh tokens (`<refresh token id>|<session id>`);
// - a data dir written with counter ids still starts, keeps its data, and
//   ends exactly the sign-ins whose ids came from the counter.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { ID_DIGITS, isCounterId, newDocumentId, tableOf } from "../../local/ids";
import { compact, readStore, type Doc } from "../../local/store";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignIn, signUpFresh } from "../helpers/signup";

const quiet = { info() {}, warn() {} };

describe("id format", () => {
  test("each id is 128 bits from crypto.getRandomValues, and the engine still reads its table", () => {
    // Every byte comes from crypto.getRandomValues: make it return all ones.
    const spy = vi.spyOn(crypto, "getRandomValues").mockImplementation((a: ArrayBufferView) => {
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength).fill(0xff);
      return a;
    });
    try {
      let id = "";
      for (let i = 0; i <= 4096 / 16 && spy.mock.calls.length === 0; i++) id = newDocumentId("authSessions", () => false);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(id).toBe(`${(2n ** 128n - 1n).toString()}authSessions`); // the first 16 bytes after the draw
      expect(id).toMatch(new RegExp(`^[0-9]{${ID_DIGITS}}authSessions$`));
      expect(tableOf(id)).toBe("authSessions");
      expect(isCounterId(id)).toBe(false);
      expect(isCounterId("0000000000000000000010002authSessions")).toBe(true);
    } finally {
      spy.mockRestore();
    }
    // Real draws (once the mocked pool is used up) differ from one id to the next.
    for (let i = 0; i < 4096 / 16; i++) newDocumentId("users", () => false);
    const ids = new Set(Array.from({ length: 1000 }, () => newDocumentId("users", () => false)));
    expect(ids.size).toBe(1000);
  });

  test("an id that is taken is never handed out again", () => {
    const seen: string[] = [];
    const id = newDocumentId("users", (candidate) => {
      seen.push(candidate);
      return seen.length < 3; // the first two candidates are "taken"
    });
    expect(seen).toHaveLength(3);
    expect(id).toBe(seen[2]);
  });
});

/** `<digits><table>` shifted by `delta` in its numeric part, same width. */
function shift(id: string, delta: bigint): string {
  const digits = /^[0-9]+/.exec(id)![0];
  const n = BigInt(digits) + delta;
  return (n < 0n ? "0" : n.toString()).padStart(digits.length, "0") + id.slice(digits.length);
}

describe("neighbouring-id refresh-token takeover", () => {
  let b: SpawnedBackend;
  beforeAll(async () => {
    b = await spawnBackend();
  });
  afterAll(async () => {
    await b?.stop();
  });

  test("guessing ids next to one's own sign-in finds no one else's refresh token", async () => {
    const victim = await signUpFresh(b, "victim");
    const attacker = await signUpFresh(b, "attacker");
    const [rt, session] = attacker.refreshToken.split("|") as [string, string];
    // Every document a sign-up writes moves the counter the same way, so with
    // counter ids the victim's pair is the attacker's shifted by one k.
    const stolen: string[] = [];
    for (let k = 1n; k <= 30n; k++) {
      for (const d of [-k, k]) {
        const guess = `${shift(rt, d)}|${shift(session, d)}`;
        const res = (await b.httpClient().action(api.auth.signIn, { refreshToken: guess }).catch(() => null)) as {
          tokens?: { token: string } | null;
        } | null;
        if (res?.tokens?.token) stolen.push(guess);
      }
    }
    expect(stolen).toEqual([]);
    expect(rt.length).toBeGreaterThanOrEqual(ID_DIGITS);
    // The victim's own refresh token still works (the guesses harmed nobody).
    const own = (await b.httpClient().action(api.auth.signIn, { refreshToken: victim.refreshToken })) as {
      tokens?: { token: string } | null;
    };
    expect(own.tokens?.token).toBeTruthy();
  });
});

/**
 * Rewrites a (stopped) data dir as the old engine would have written it:
 * every id becomes a counter id (`String(n).padStart(32 - table.length, "0") + table`),
 * everywhere it appears in a document.
 */
function toCounterIds(dataDir: string): Map<string, string> {
  const state = readStore(dataDir, quiet);
  const ids = [...state.documents.keys()].sort((a, b) => state.documents.get(a)!._creationTime - state.documents.get(b)!._creationTime);
  const map = new Map<string, string>();
  ids.forEach((id, i) => {
    const table = tableOf(id)!;
    map.set(id, String(10_000 + i).padStart(32 - table.length, "0") + table);
  });
  const rename = (v: unknown): unknown => {
    if (typeof v === "string") return map.get(v) ?? v;
    if (Array.isArray(v)) return v.map(rename);
    if (v && typeof v === "object" && !(v instanceof ArrayBuffer)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)]));
    }
    return v;
  };
  const docs: Array<[string, Doc]> = ids.map((id) => [map.get(id)!, rename(state.documents.get(id)) as Doc]);
  compact(dataDir, docs, { ...state, nextDocId: 10_000 + ids.length });
  return map;
}

/** The sign-in JWT @convex-dev/auth would have issued for `subject` (same key, same claims otherwise). */
async function resign(dataDir: string, jwt: string, subject: string): Promise<string> {
  const env = JSON.parse(fs.readFileSync(path.join(dataDir, "env.json"), "utf8")) as Record<string, string>;
  const key = await importPKCS8(env.JWT_PRIVATE_KEY!, "RS256");
  const { iat: _iat, exp, ...claims } = decodeJwt(jwt);
  return await new SignJWT({ ...claims, sub: subject })
    .setProtectedHeader(decodeProtectedHeader(jwt) as { alg: string })
    .setIssuedAt()
    .setExpirationTime(exp!)
    .sign(key);
}

describe("upgrading a data dir written with counter ids", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-oldids-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test("starts with its data kept, ends its sign-ins (said once), and a new sign-in works", async () => {
    let b = await spawnBackend({ dataDir });
    const alice = await signUpFresh(b, "alice");
    await b.httpClient(alice.token).mutation(api.orgs.create, { slug: "acme", name: "Acme" });
    const port = Number(new URL(b.url).port);
    const sitePort = Number(new URL(b.siteUrl).port);
    await b.stop();

    const map = toCounterIds(dataDir);
    const [rt, session] = alice.refreshToken.split("|") as [string, string];
    const [userId] = String(decodeJwt(alice.token).sub).split("|") as [string];
    const oldRefreshToken = `${map.get(rt)}|${map.get(session)}`;
    const oldJwt = await resign(dataDir, alice.token, `${map.get(userId)}|${map.get(session)}`);

    b = await spawnBackend({ dataDir, port, sitePort });
    try {
      const upgraded = b.logs().match(/guessable document ids: ended 1 sign-in\(s\) and 1 refresh token\(s\)/g);
      expect(upgraded).toHaveLength(1);
      // The old sign-in is over: its JWT no longer reaches anything, its refresh token is dead.
      await expect(b.httpClient(oldJwt).query(api.orgs.listMine, {})).rejects.toThrow(/sign in again|unauthenticated/);
      const refreshed = (await b.httpClient().action(api.auth.signIn, { refreshToken: oldRefreshToken }).catch(() => null)) as {
        tokens?: unknown;
      } | null;
      expect(refreshed?.tokens ?? null).toBeNull();
      // A new sign-in works and the data is all there.
      const again = await passwordSignIn(b, alice.email);
      const orgs = (await b.httpClient(again.token).query(api.orgs.listMine, {})) as Array<{ slug: string }>;
      expect(orgs.map((o) => o.slug)).toEqual(["acme"]);
    } finally {
      await b.stop();
    }
    // Said once: the next start has nothing left to end.
    b = await spawnBackend({ dataDir, port, sitePort });
    try {
      expect(b.logs()).not.toMatch(/guessable document ids/);
    } finally {
      await b.stop();
    }
  }, 60_000);
});
