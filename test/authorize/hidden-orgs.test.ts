// The attacker probes organization and workspace names: an org that exists
// but is someone else's must answer exactly like one that does not exist —
// same code, same message (the name aside), over Convex functions (person
// and PAT) and over the HTTP API. Official clients, embedded backend.
import type { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { errorOf } from "../helpers/errors";
import { signUpFresh } from "../helpers/signup";
import { call } from "../http/helpers";

let b: SpawnedBackend;
let owner: ConvexHttpClient;
let mallory: ConvexHttpClient;
let malloryPat: string;
let ownerId: string;
const HIDDEN = `hid${Date.now().toString(36)}`;
const MISSING = `nix${Date.now().toString(36)}`;

beforeAll(async () => {
  b = await spawnBackend();
  owner = b.httpClient((await signUpFresh(b, "owner")).token);
  await owner.mutation(api.orgs.create, { slug: HIDDEN, name: "Hidden" });
  await owner.mutation(api.workspaces.create, { org: HIDDEN, slug: "site", name: "Site" });
  await owner.mutation(api.items.put, { workspace: `${HIDDEN}/site`, name: "secret", data: 1 });
  ownerId = (await owner.query(api.auth.viewer, {})).userId;
  mallory = b.httpClient((await signUpFresh(b, "mallory")).token);
  // Mallory's own org, so she has a real membership and a full-role PAT.
  await mallory.mutation(api.orgs.create, { slug: `m${Date.now().toString(36)}`, name: "Mine" });
  malloryPat = (await mallory.mutation(api.auth.createApiToken, { name: "probe", scopes: [] })).token;
});

afterAll(async () => {
  await b?.stop();
});

/** The error of a call, with the probed name replaced so two probes can be compared. */
async function refusal(p: Promise<unknown>, name: string) {
  const e = await errorOf(p);
  return { code: e.code, message: e.message.split(name).join("<name>") };
}

type Probe = (c: ConvexHttpClient, org: string) => Promise<unknown>;

const PROBES: Record<string, Probe> = {
  "orgs.listMembers": (c, org) => c.query(api.orgs.listMembers, { org }),
  "orgs.invite": (c, org) => c.mutation(api.orgs.invite, { org, email: "x@example.com", role: "viewer" }),
  "orgs.setRole": (c, org) => c.mutation(api.orgs.setRole, { org, userId: ownerId as never, role: "viewer" }),
  "orgs.removeMember": (c, org) => c.mutation(api.orgs.removeMember, { org, userId: ownerId as never }),
  "workspaces.list": (c, org) => c.query(api.workspaces.list, { org }),
  "workspaces.create": (c, org) => c.mutation(api.workspaces.create, { org, slug: "new", name: "New" }),
  "items.get": (c, org) => c.query(api.items.get, { workspace: `${org}/site`, name: "secret" }),
  "items.list": (c, org) => c.query(api.items.list, { workspace: `${org}/site`, paginationOpts: { numItems: 5, cursor: null } }),
  "items.put": (c, org) => c.mutation(api.items.put, { workspace: `${org}/site`, name: "secret", data: 2 }),
  "items.remove": (c, org) => c.mutation(api.items.remove, { workspace: `${org}/site`, name: "secret" }),
};

describe("a missing org and someone else's org answer alike", () => {
  for (const [name, probe] of Object.entries(PROBES)) {
    test(`${name}: as a person and as a PAT`, async () => {
      for (const c of [mallory, b.httpClient(malloryPat)]) {
        const hidden = await refusal(probe(c, HIDDEN), HIDDEN);
        const missing = await refusal(probe(c, MISSING), MISSING);
        expect(hidden).toEqual(missing);
        expect(hidden.code).toBe("forbidden");
      }
    });
  }

  test("a missing workspace in someone else's org answers like an existing one", async () => {
    const existing = await refusal(mallory.query(api.items.get, { workspace: `${HIDDEN}/site`, name: "secret" }), `${HIDDEN}/site`);
    const missing = await refusal(mallory.query(api.items.get, { workspace: `${HIDDEN}/nope`, name: "secret" }), `${HIDDEN}/nope`);
    expect(existing).toEqual(missing);
  });

  test("over HTTP: same status and body", async () => {
    const routes = (org: string) => [
      ["GET", `/api/workspaces/${org}/site/items`],
      ["GET", `/api/workspaces/${org}/site/items/secret`],
      ["PUT", `/api/workspaces/${org}/site/items/secret`],
      ["DELETE", `/api/workspaces/${org}/site/items/secret`],
    ];
    const hidden = routes(HIDDEN);
    const missing = routes(MISSING);
    for (let i = 0; i < hidden.length; i++) {
      const body = hidden[i][0] === "PUT" ? { data: 3 } : undefined;
      const h = await call(b, hidden[i][0], hidden[i][1], { token: malloryPat, body });
      const m = await call(b, missing[i][0], missing[i][1], { token: malloryPat, body });
      expect(h.status).toBe(403);
      expect(m.status).toBe(h.status);
      expect(m.text.split(MISSING).join("<name>")).toBe(h.text.split(HIDDEN).join("<name>"));
    }
    // And nothing was changed on the way.
    expect(await owner.query(api.items.get, { workspace: `${HIDDEN}/site`, name: "secret" })).toMatchObject({ data: 1 });
  });
});
