// Mutation outcomes over the sync socket are bound to (identity, session id,
// request id). The attack: an anonymous socket that borrows a victim's
// session id and re-sends the victim's request id must not receive the
// victim's result (here: a freshly created PAT).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { RawSync } from "../helpers/rawsync";
import { signUpFresh } from "../helpers/signup";

let b: SpawnedBackend;
const sockets: RawSync[] = [];
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await b?.stop();
});

async function open(sessionId: string) {
  const s = await RawSync.open(b.url, sessionId);
  sockets.push(s);
  return s;
}

test("a borrowed session id and request id never replay another identity's result", async () => {
  const victim = await signUpFresh(b, "victim");
  const sessionId = randomUUID();
  const v = await open(sessionId);
  v.authenticate(victim.token);
  const created = await v.mutation(7, "auth:createApiToken", { name: "victim-pat", scopes: [] });
  expect(created.success).toBe(true);
  const secret = (created.result as { token: string }).token;
  expect(secret).toMatch(/^ey/);

  // The victim's client re-sending it (a reconnect) gets the recorded outcome, not a second token.
  const resend = await open(sessionId);
  resend.authenticate(victim.token);
  const replayed = await resend.mutation(7, "auth:createApiToken", { name: "victim-pat", scopes: [] });
  expect(replayed.result).toEqual(created.result);

  // An anonymous socket with the same session id and request id runs its own request, as itself.
  const attacker = await open(sessionId);
  const stolen = await attacker.mutation(7, "auth:createApiToken", { name: "x", scopes: [] });
  expect(stolen.success).toBe(false);
  expect(JSON.stringify(stolen)).not.toContain(secret);
  expect(stolen.errorData).toMatchObject({ code: "unauthenticated" });

  // So does another signed-in person.
  const mallory = await signUpFresh(b, "mallory");
  const m = await open(sessionId);
  m.authenticate(mallory.token);
  const theirs = await m.mutation(7, "auth:createApiToken", { name: "mallory-pat", scopes: [] });
  expect(theirs.success).toBe(true);
  expect(JSON.stringify(theirs)).not.toContain(secret);
  expect((theirs.result as { name: string }).name).toBe("mallory-pat");
});
