// On Convex a customJwt token's private claims reach functions under their own
// names, and one named like an identity field (`subject`, `issuer`,
// `tokenIdentifier`) replaces that field (local/claims.ts, as serde's flatten
// does in get-convex/convex-backend crates/convex/sync_types/src/types/json.rs).
// keyhole decides who a caller is from `issuer` and `subject`, so the tokens it
// signs carry one fixed set of claims, none taken from what a caller sends: a
// claim added later that a caller could influence makes this test fail.
import { decodeJwt } from "jose";
import { expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { toIdentity } from "../../local/identity";
import { TEST_ISSUER } from "../helpers/env";
import { makeTest, signIn } from "../helpers/convex";

const CLAIMS = ["aud", "bnd", "exp", "iat", "iss", "jti", "kind", "sub"];
// What a caller chooses, named like the identity's fields.
const BAIT = { subject: "pat:victim", issuer: "https://attacker.example", tokenIdentifier: "https://attacker.example|x" };

test("a PAT, an agent session and its refresh carry exactly keyhole's claims, whatever the caller named or attached", async () => {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  const pat = await alice.as.mutation(api.auth.createApiToken, { name: "subject", scopes: [] });
  const session = await alice.as.mutation(api.auth.createSession, { agentId: "tokenIdentifier", metadata: BAIT });
  const refreshed = await t.mutation(api.auth.refreshSession, { refreshToken: session.refreshToken });
  if (!("sessionId" in refreshed) || typeof refreshed.token !== "string") throw new Error(`refresh failed: ${JSON.stringify(refreshed)}`);
  const cases = [
    { token: pat.token, sub: `pat:${pat.tokenId}` },
    { token: session.token, sub: `agent:${session.sessionId}` },
    { token: refreshed.token, sub: `agent:${refreshed.sessionId}` }, // a refresh rotates to a new session row
  ];
  for (const { token, sub } of cases) {
    const claims = decodeJwt(token);
    expect(Object.keys(claims).sort()).toEqual(CLAIMS);
    expect(claims.kind).toBe(sub.split(":")[0]);
    const identity = toIdentity(claims) as unknown as Record<string, unknown>;
    expect({ subject: identity.subject, issuer: identity.issuer, tokenIdentifier: identity.tokenIdentifier }).toEqual({
      subject: sub,
      issuer: TEST_ISSUER,
      tokenIdentifier: `${TEST_ISSUER}|${sub}`,
    });
  }
});
