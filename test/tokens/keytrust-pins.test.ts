// Key-trust rules (convex/model/keyTrust.ts) that mutation testing (issue 19)
// found no fast test pinned. The attacker holds a key Convex still trusts
// (a retired one, kept in the JWKS while its old tokens live) and signs what
// claims they like: here, what Convex would hand the function for such a token.
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import type { JSONValue } from "convex/values";
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { sha256Hex } from "../../convex/model/crypto";
import { keyIdOf } from "../../convex/model/keys";
import { toIdentity } from "../../local/identity";
import { TEST_ISSUER } from "../helpers/env";
import { makeTest, signIn, type TestConvex } from "../helpers/convex";
import { codeOf, errorOf } from "../helpers/errors";

/** A signed-in person with one PAT; `forge(claims)` presents its real claims with the attacker's changes. */
async function patWorld() {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
  const claims = decodeJwt(pat.token);
  const forge = (changes: Record<string, JSONValue | undefined>) => t.withIdentity({ ...toIdentity(claims), ...changes });
  return { t, pat, claims, forge };
}

async function setRecord(t: TestConvex, tokenId: Id<"apiTokens">, fields: { bindingHash?: string; keyId?: string }) {
  await t.run(async (ctx) => await ctx.db.patch("apiTokens", tokenId, fields));
}

describe("the binding claim", () => {
  test("must be a string: the right secret wrapped in an array (or as a number) is refused", async () => {
    const { claims, forge } = await patWorld();
    expect(await codeOf(forge({}).query(api.auth.viewer, {}))).toBe("ok"); // the real claims pass
    // TextEncoder would turn ["secret"] into "secret": only the type check tells them apart.
    expect(await codeOf(forge({ bnd: [claims.bnd as string] }).query(api.auth.viewer, {}))).toBe("unauthenticated");
    expect(await codeOf(forge({ bnd: 12345 }).query(api.auth.viewer, {}))).toBe("unauthenticated");
    expect(await codeOf(forge({ bnd: undefined }).query(api.auth.viewer, {}))).toBe("unauthenticated");
  });

  test("is at most 64 characters: a longer claim is refused even when its hash is the record's", async () => {
    const { t, pat, forge } = await patWorld();
    // The record's hash set to that of the attacker's claim: only the length cap can refuse it.
    for (const [claim, expected] of [
      ["b".repeat(64), "ok"],
      ["b".repeat(65), "unauthenticated"],
      ["b".repeat(4096), "unauthenticated"],
    ] as const) {
      await setRecord(t, pat.tokenId, { bindingHash: await sha256Hex(claim) });
      expect(await codeOf(forge({ bnd: claim }).query(api.auth.viewer, {})), `${claim.length} characters`).toBe(expected);
    }
  });

  test("a wrong binding reads exactly like an unknown credential (same code and message)", async () => {
    const { t, forge } = await patWorld();
    const wrong = await errorOf(forge({ bnd: "A".repeat(43) }).query(api.auth.viewer, {}));
    // A PAT id that names no record: the answer a forger must not be able to tell apart.
    const gone = await errorOf(
      t.withIdentity({ issuer: TEST_ISSUER, subject: "pat:nosuchtoken", kind: "pat" }).query(api.auth.viewer, {}),
    );
    expect(gone).toEqual({ code: "unauthenticated", message: "credential not recognized" });
    expect(wrong).toEqual(gone);
  });
});

describe("the signing key", () => {
  test("a key that is neither current nor retired is not refused for compromise, and nothing crashes", async () => {
    const { t, pat, forge } = await patWorld();
    // As after a switch of KEYHOLE_SIGNING_KEY without the retire step: no retiredSigningKeys row for it.
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    await setRecord(t, pat.tokenId, { keyId: await keyIdOf(await exportJWK(publicKey)) });
    expect(await codeOf(forge({}).query(api.auth.viewer, {}))).toBe("ok");
    expect(await codeOf(forge({}).mutation(api.auth.createSession, { agentId: "a" }))).toBe("ok");
  });
});
