// Key compromise (convex-test): every token record is bound to the token
// signed for it (a secret `bnd` claim whose hash the record keeps, next to
// the id of the key that signed it), so a token forged with any key — a
// retired one, after a rotation — for any record is refused; and an
// emergency retirement (keys:revokeKey) stops trusting a key at once.
import { exportJWK, generateKeyPair } from "jose";
import { afterEach, describe, expect, test } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { keyIdOf } from "../../convex/model/keys";
import { TEST_ISSUER } from "../helpers/env";
import { asBearer, asToken } from "../helpers/convex";
import { codeOf, errorOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "./fixtures";

let savedKey: string | undefined;
afterEach(() => {
  if (savedKey !== undefined) process.env.KEYHOLE_SIGNING_KEY = savedKey;
  savedKey = undefined;
});

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as Record<string, string>;
const publicOf = (jwk: Record<string, unknown>) => JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
const notes = { workspace: "acme/site", name: "notes" };

/** A hygiene rotation as scripts/rotate-signing-key.ts does it; returns the old private JWK. */
async function rotate(t: Awaited<ReturnType<typeof world>>["t"]) {
  savedKey ??= process.env.KEYHOLE_SIGNING_KEY!;
  const oldJwk = JSON.parse(process.env.KEYHOLE_SIGNING_KEY!) as Record<string, unknown>;
  await t.mutation(internal.keys.retireKey, { publicJwk: publicOf(oldJwk), phase: "before" });
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(await exportJWK(privateKey));
  await t.mutation(internal.keys.retireKey, { publicJwk: publicOf(oldJwk) });
  return oldJwk;
}

describe("records are bound to the token signed for them", () => {
  test("the token carries a binding claim; the record keeps its hash and the signing key's id", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const claims = claimsOf(pat.token);
    expect(claims.bnd).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    const row = await t.run(async (ctx) => await ctx.db.get("apiTokens", pat.tokenId));
    expect(row!.keyId).toBe(await keyIdOf(JSON.parse(process.env.KEYHOLE_SIGNING_KEY!)));
    expect(row!.bindingHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(claims.bnd as string);
  });

  test("a token forged with a retired key for a PAT created after the rotation is refused", async () => {
    const { t, alice } = await world();
    const before = await patFor(t, alice, [], { expiresIn: 7 * 86400 }); // keeps the old key in the JWKS
    await rotate(t);
    const after = await patFor(t, alice, []);
    expect(await codeOf(after.as.query(api.items.get, notes))).toBe("ok");
    // What Convex hands the function for a token the attacker signed with the
    // old key (still in the JWKS for `before`): our issuer, the new PAT's
    // subject and any claims the attacker likes — but not the binding.
    const forged = { issuer: TEST_ISSUER, subject: `pat:${after.tokenId}`, kind: "pat" };
    for (const identity of [forged, { ...forged, bnd: claimsOf(before.token).bnd }, { ...forged, bnd: "A".repeat(22) }]) {
      expect(await codeOf(t.withIdentity(identity).query(api.items.get, notes))).toBe("unauthenticated");
      expect(await codeOf(t.withIdentity(identity).mutation(api.items.put, { ...notes, data: 1 }))).toBe("unauthenticated");
    }
    // The old PAT is still fine (rotation for hygiene breaks nobody), and so is the new one.
    expect(await codeOf(before.as.query(api.items.get, notes))).toBe("ok");
    expect(await codeOf(asBearer(t, after.token).query(api.auth.viewer, {}))).toBe("ok");
  });

  test("the same for an agent session, and for a child session of a PAT", async () => {
    const { t, alice } = await world();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const pat = await patFor(t, alice, []);
    const child = await pat.as.mutation(api.auth.createSession, { agentId: "child" });
    for (const x of [s, child]) {
      expect(await codeOf(asBearer(t, x.token).query(api.auth.viewer, {}))).toBe("ok");
      const forged = t.withIdentity({ issuer: TEST_ISSUER, subject: `agent:${x.sessionId}`, kind: "agent" });
      expect(await codeOf(forged.query(api.auth.viewer, {}))).toBe("unauthenticated");
    }
  });

  test("a forgery for a revoked or expired record learns nothing: the same unauthenticated", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(await codeOf(pat.as.query(api.auth.viewer, {}))).toBe("revoked");
    const forged = t.withIdentity({ issuer: TEST_ISSUER, subject: `pat:${pat.tokenId}`, kind: "pat" });
    expect(await codeOf(forged.query(api.auth.viewer, {}))).toBe("unauthenticated");
  });

  test("records from before binding existed (no hash) keep working", async () => {
    const { t, alice } = await world();
    const legacy = await agentSessionFor(t, alice.userId); // a row without keyId/bindingHash
    expect(await codeOf(legacy.as.query(api.auth.viewer, {}))).toBe("ok");
  });
});

describe("emergency retirement (keys:revokeKey)", () => {
  test("a retired key's tokens are refused at once, before any batch runs, and leave the JWKS", async () => {
    const { t, alice } = await world();
    const old = await patFor(t, alice, [], { expiresIn: 7 * 86400 });
    const oldSession = await old.as.mutation(api.auth.createSession, { agentId: "child" });
    const personSession = await alice.as.mutation(api.auth.createSession, { agentId: "mine" });
    const oldJwk = await rotate(t);
    const oldKid = await keyIdOf(oldJwk);
    expect(await codeOf(old.as.query(api.items.get, notes))).toBe("ok"); // hygiene: still trusted

    // The key is marked compromised; its records are not touched yet.
    await t.run(async (ctx) => {
      const row = await ctx.db.query("retiredSigningKeys").withIndex("by_key", (q) => q.eq("keyId", oldKid)).first();
      await ctx.db.patch("retiredSigningKeys", row!._id, { compromisedAt: Date.now() });
    });
    for (const as of [old.as, asBearer(t, oldSession.token), asBearer(t, personSession.token)]) {
      const e = await errorOf(as.query(api.auth.viewer, {}));
      expect(e.code).toBe("revoked");
      expect(e.message).toMatch(/key that signed this token/);
    }
    const kids = ((await (await t.fetch("/keyhole/jwks.json")).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(kids).not.toContain(oldKid);
    // A token signed by the current key is untouched.
    expect(await codeOf((await patFor(t, alice, [])).as.query(api.items.get, notes))).toBe("ok");
  });

  test("revokeKey marks the key, revokes its PATs (audited), ends its sessions, and nothing resurrects it", async () => {
    const { t, alice } = await world();
    const old = await patFor(t, alice, [], { expiresIn: 7 * 86400, name: "old-one" });
    const session = await alice.as.mutation(api.auth.createSession, { agentId: "mine" });
    const oldJwk = await rotate(t);
    const keep = await patFor(t, alice, [], { name: "new-one" });

    const r = await t.mutation(internal.keys.revokeKey, { publicJwk: publicOf(oldJwk), reason: "laptop stolen" });
    expect(r).toMatchObject({ keyId: await keyIdOf(oldJwk), tokensRevoked: 1, sessionsEnded: 1 });
    await t.finishAllScheduledFunctions(() => {});

    const list = await alice.as.query(api.auth.listApiTokens, {});
    const status = Object.fromEntries(list.tokens.map((x) => [x.name, x.status]));
    expect(status).toMatchObject({ "old-one": "revoked", "new-one": "active" });
    expect(await codeOf(keep.as.query(api.items.get, notes))).toBe("ok");
    expect((await t.query(api.auth.validateSession, { token: session.token })).valid).toBe(false);
    const audit = await t.run(async (ctx) => await ctx.db.query("auditEvents").collect());
    expect(audit.find((a) => a.action === "token.revoked" && a.targetId === old.tokenId)).toMatchObject({
      actorKind: "system",
      details: expect.stringMatching(/signing key .* compromised/),
    });

    // A hygiene retirement, a re-publication or pruning cannot bring it back.
    expect(await codeOf(t.mutation(internal.keys.retireKey, { publicJwk: publicOf(oldJwk) }))).toBe("conflict");
    expect(await codeOf(t.mutation(internal.keys.publishKey, { publicJwk: publicOf(oldJwk) }))).toBe("conflict");
    await t.mutation(internal.keys.pruneRetiredKeys, {});
    const listed = await t.query(internal.keys.listRetiredKeys, {});
    expect(listed.find((k) => k.keyId === r.keyId)).toMatchObject({ compromised: true, live: false });
  });

  test("past one batch, the rest of the key's PATs are revoked by scheduled continuations", async () => {
    const { t, alice } = await world();
    const oldJwk = await rotate(t);
    const oldKid = await keyIdOf(oldJwk);
    const now = Date.now();
    await t.run(async (ctx) => {
      for (let i = 0; i < 150; i++) {
        await ctx.db.insert("apiTokens", {
          userId: alice.userId,
          name: `bulk${i}`,
          type: "PAT",
          scopes: [],
          tokenHash: `h${i}`,
          keyId: oldKid,
          createdAt: now,
          expiresAt: now + 86400_000 + i,
        });
      }
    });
    const r = await t.mutation(internal.keys.revokeKey, { keyId: oldKid });
    expect(r).toMatchObject({ tokensRevoked: 64, more: true });
    await t.finishAllScheduledFunctions(() => {});
    const live = await t.run(
      async (ctx) =>
        (await ctx.db.query("apiTokens").withIndex("by_key_expiry", (q) => q.eq("keyId", oldKid)).collect()).filter(
          (x) => x.revokedAt === undefined,
        ).length,
    );
    expect(live).toBe(0);
  });

  test("the current signing key cannot be revoked (switch to a new one first); unknown input is invalid_argument", async () => {
    const { t } = await world();
    const current = JSON.parse(process.env.KEYHOLE_SIGNING_KEY!) as Record<string, unknown>;
    expect(await codeOf(t.mutation(internal.keys.revokeKey, { publicJwk: publicOf(current) }))).toBe("conflict");
    expect(await codeOf(t.mutation(internal.keys.revokeKey, { keyId: await keyIdOf(current) }))).toBe("conflict");
    expect(await codeOf(t.mutation(internal.keys.revokeKey, {}))).toBe("invalid_argument");
    expect(await codeOf(t.mutation(internal.keys.revokeKey, { keyId: "not-a-kid" }))).toBe("invalid_argument");
  });

  test("asToken without the token text still works for rows made directly (legacy path)", async () => {
    const { t, alice } = await world();
    const row = await agentSessionFor(t, alice.userId);
    expect(await codeOf(asToken(t, "agent", row.sessionId).query(api.auth.viewer, {}))).toBe("ok");
  });
});
