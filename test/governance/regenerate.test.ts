// regenerateApiToken and updateApiToken, attacker first: during the grace
// both secrets work, after it the old one fails (controlled clock); grace 0
// stops the old one now; only the signed-in owner may do either; the new
// secret is returned once and stored only hashed.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { sha256Hex } from "../../convex/model/crypto";
import { MAX_ACTIVE_TOKENS } from "../../convex/model/tokens";
import { asToken } from "../helpers/convex";
import { codeOf } from "../helpers/errors";
import { patFor, world } from "../tokens/fixtures";

afterEach(() => {
  vi.useRealTimers();
});

const read = { workspace: "acme/site", name: "notes" };

describe("regenerateApiToken", () => {
  test("both secrets work during the grace; the old one fails after it (controlled clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const w = await world();
    const old = await patFor(w.t, w.carol, ["acme/site=work:read"], { name: "deploy", expiresIn: 30 * 86400 });
    const r = await w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: old.tokenId, graceSeconds: 3600 });
    const fresh = asToken(w.t, "pat", r.tokenId);
    expect(r.token).not.toBe(old.token);
    expect(r.previousTokenId).toBe(old.tokenId);
    expect(r.previousExpiresAt).toBe(Date.now() + 3600_000);
    expect(await codeOf(old.as.query(api.items.get, read))).toBe("ok");
    expect(await codeOf(fresh.query(api.items.get, read))).toBe("ok");
    vi.setSystemTime(r.previousExpiresAt - 1);
    expect(await codeOf(old.as.query(api.items.get, read))).toBe("ok");
    vi.setSystemTime(r.previousExpiresAt);
    expect(await codeOf(old.as.query(api.items.get, read))).toBe("expired");
    expect(await codeOf(old.as.mutation(api.items.put, { ...read, data: 1 }))).toBe("expired");
    expect(await codeOf(fresh.query(api.items.get, read))).toBe("ok");
  });

  test("graceSeconds 0 (the default) stops the old secret at once", async () => {
    const w = await world();
    const old = await patFor(w.t, w.carol, ["acme/site=work:read"]);
    const r = await w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: old.tokenId });
    expect(await codeOf(old.as.query(api.items.get, read))).toBe("expired");
    expect(await codeOf(asToken(w.t, "pat", r.tokenId).query(api.items.get, read))).toBe("ok");
  });

  test("same settings: name, description, type, scopes, lifetime from now; a new id and secret stored only hashed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const w = await world();
    const created = await w.carol.as.mutation(api.auth.createApiToken, {
      name: "mcp-bot",
      scopes: [{ resource: "acme/site", permissions: ["work:read"], allowedMatches: ["Signal/*"] }],
      description: "the bot",
      type: "MCP",
      expiresIn: 10 * 86400,
    });
    vi.setSystemTime(Date.now() + 86400_000);
    const r = await w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: created.tokenId, graceSeconds: 60 });
    const info = await w.carol.as.query(api.auth.getApiToken, { tokenId: r.tokenId });
    expect(info).toMatchObject({ name: "mcp-bot", description: "the bot", type: "MCP", scopes: created.scopes, status: "active" });
    expect(r.expiresAt - info.createdAt).toBe(created.expiresAt - (await w.carol.as.query(api.auth.getApiToken, { tokenId: created.tokenId })).createdAt);
    const row = await w.t.run(async (ctx) => await ctx.db.get("apiTokens", r.tokenId));
    expect(row!.tokenHash).toBe(await sha256Hex(r.token));
    const listed = JSON.stringify(await w.carol.as.query(api.auth.listApiTokens, {}));
    expect(listed).not.toContain(r.token.split(".")[2]);
  });

  test("someone else's token is not_found; a PAT is forbidden; revoked or already regenerated is a conflict", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.carol, []);
    expect(await codeOf(w.mallory.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId }))).toBe("not_found");
    expect(await codeOf(pat.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId }))).toBe("forbidden");
    expect(await codeOf(pat.as.query(api.auth.viewer, {}))).toBe("ok");
    await w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId, graceSeconds: 600 });
    expect(await codeOf(w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId }))).toBe("conflict");
    const other = await patFor(w.t, w.carol, []);
    await w.carol.as.mutation(api.auth.revokeApiToken, { tokenId: other.tokenId });
    expect(await codeOf(w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: other.tokenId }))).toBe("conflict");
  });

  test("grace is 0 to 7 days, whole seconds", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.carol, []);
    for (const graceSeconds of [-1, 7 * 86400 + 1, 1.5]) {
      expect(await codeOf(w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId, graceSeconds }))).toBe(
        "invalid_argument",
      );
    }
    expect(await codeOf(w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: pat.tokenId, graceSeconds: 7 * 86400 }))).toBe(
      "ok",
    );
  });
});

describe("updateApiToken", () => {
  test("renames and redescribes the caller's own token only", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.carol, [], { name: "old-name" });
    await patFor(w.t, w.carol, [], { name: "taken" });
    const r = await w.carol.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, name: "new-name", description: "why" });
    expect(r).toMatchObject({ name: "new-name", description: "why" });
    expect((await w.carol.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, description: "" })).description).toBeNull();
    expect(await codeOf(w.carol.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, name: "taken" }))).toBe("conflict");
    expect(await codeOf(w.carol.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, name: "bad name" }))).toBe(
      "invalid_argument",
    );
    expect(await codeOf(w.mallory.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, name: "pwned" }))).toBe("not_found");
    expect(await codeOf(pat.as.mutation(api.auth.updateApiToken, { tokenId: pat.tokenId, name: "self" }))).toBe("forbidden");
    expect((await w.carol.as.query(api.auth.getApiToken, { tokenId: pat.tokenId })).name).toBe("new-name");
  });
});

describe("the active-token cap (MAX_ACTIVE_TOKENS)", () => {
  test("at the cap, neither a new token nor regenerating a revoked one gets past it; an active one is replaced one for one", async () => {
    const { t, alice } = await world();
    const revoked = await patFor(t, alice, ["acme=work:read"], { name: "old" });
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: revoked.tokenId });
    const live = await patFor(t, alice, ["acme=work:read"], { name: "live" });
    // Fill up to the cap with copies of the live row (the create rate limit would stop us first).
    await t.run(async (ctx) => {
      const { _id, _creationTime, ...row } = (await ctx.db.get("apiTokens", live.tokenId as never))!;
      void _id;
      void _creationTime;
      for (let i = 1; i < MAX_ACTIVE_TOKENS; i++) await ctx.db.insert("apiTokens", { ...row, name: `fill-${i}` });
    });
    const create = alice.as.mutation(api.auth.createApiToken, { name: "one-more", scopes: ["acme=work:read"] });
    expect(await codeOf(create)).toBe("conflict");
    expect(await codeOf(alice.as.mutation(api.auth.regenerateApiToken, { tokenId: revoked.tokenId }))).toBe("conflict");
    expect(await codeOf(alice.as.mutation(api.auth.regenerateApiToken, { tokenId: live.tokenId }))).toBe("ok");
  });
});
