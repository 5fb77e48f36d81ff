// Who may call each public function is part of its definition (the builders
// in convex/model/functions.ts). This file plays the attacker against that:
//
// - every public function of every module in convex/ is built with a builder
//   that names its rule, and the rule is the one this table expects (a
//   function moved to a weaker builder, or added without one, fails here);
// - each internal twin (…Internal) carries its public function's rule;
// - each rule refuses whom it must, called with arguments that pass the
//   validators: anonymous callers everywhere but the `anyone` functions, PATs
//   and agent sessions for the people-only ones, tokens lacking the permission
//   for the permission ones; a delegating action's internal function likewise.
import { describe, expect, test } from "vitest";
import { makeFunctionReference } from "convex/server";
import { ruleOf, type Rule } from "../../convex/model/functions";
import { codeOf, messageOf } from "../helpers/errors";
import { setupTestEnv } from "../helpers/env";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

// Every module of convex/ (auth.config.ts reads the env: set it first).
await setupTestEnv();
const loaders = import.meta.glob<Record<string, unknown>>("../../convex/*.ts");
const modules: Record<string, Record<string, unknown>> = {};
for (const [path, load] of Object.entries(loaders)) modules[path] = await load();

type Registered = {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs(): string;
};

/** Functions not built here: @convex-dev/auth's own sign-in action (anyone may try to sign in). */
const LIBRARY_BUILT = new Set(["auth:signIn"]);

/** Who may call each public function: user, principal, permission:<p>, anyone, delegated:<module:function>. */
const EXPECTED: Record<string, string> = {
  "audit:list": "permission:tokens:read",
  "auth:createApiToken": "user",
  "auth:listApiTokens": "user",
  "auth:getApiToken": "user",
  "auth:revokeApiToken": "user",
  "auth:regenerateApiToken": "user",
  "auth:updateApiToken": "user",
  "auth:viewer": "principal",
  "auth:createSession": "principal",
  "auth:validateSession": "anyone",
  "auth:refreshSession": "anyone",
  "auth:endSession": "anyone",
  "auth:createWebSession": "user",
  "auth:validateWebSession": "user",
  "auth:initiateOAuth": "user",
  "auth:completeOAuth": "user",
  "auth:listOAuthConnections": "permission:connections:read",
  "auth:revokeOAuth": "delegated:oauth:takeForRevoke",
  "auth:signOut": "anyone",
  "auth:isAuthenticated": "anyone",
  "dashboard:overview": "user",
  "dashboard:tokenActivity": "user",
  "dashboard:siteInfo": "user",
  "items:put": "principal",
  "items:get": "principal",
  "items:list": "principal",
  "items:remove": "principal",
  "notices:list": "permission:tokens:read",
  "notices:dismiss": "user",
  "oauth:getConnectionToken": "delegated:oauth:beginVend",
  "oauth:listProviders": "principal",
  "oauthServer:consentRequest": "user",
  "oauthServer:decideConsent": "user",
  "oauthServer:listConnectedApps": "user",
  "oauthServer:disconnectApp": "user",
  "orgs:create": "user",
  "orgs:listMine": "principal",
  "orgs:listMembers": "principal",
  "orgs:setRole": "principal",
  "orgs:removeMember": "principal",
  "orgs:invite": "principal",
  "orgs:acceptInvite": "user",
  "orgs:listInvites": "principal",
  "orgs:revokeInvite": "principal",
  "orgs:listOrgTokens": "principal",
  "orgs:revokeOrgToken": "user",
  "orgs:getTokenPolicy": "principal",
  "orgs:setTokenPolicy": "user",
  "sessions:listAgentSessions": "permission:tokens:read",
  "sessions:endAgentSession": "user",
  "sessions:endAgentSessionsForAgent": "user",
  "sessions:listDevices": "user",
  "sessions:signOutDevice": "user",
  "sessions:signOutOtherDevices": "user",
  "users:me": "principal",
  "webhooks:create": "user",
  "webhooks:list": "user",
  "webhooks:remove": "user",
  "webhooks:listDeliveries": "user",
  "webhooks:sendTest": "user",
  "workspaces:create": "principal",
  "workspaces:list": "principal",
};

function functionsOf(filter: (f: Registered) => boolean): Map<string, Registered> {
  const out = new Map<string, Registered>();
  for (const [path, mod] of Object.entries(modules)) {
    const module = path.replace(/^.*\/convex\//, "").replace(/\.ts$/, "");
    for (const [name, f] of Object.entries(mod)) {
      const r = f as Registered;
      if (typeof f === "function" && (r.isQuery || r.isMutation || r.isAction) && filter(r)) out.set(`${module}:${name}`, r);
    }
  }
  return out;
}

const PUBLIC = functionsOf((f) => f.isPublic === true);
const INTERNAL = functionsOf((f) => f.isInternal === true);

function label(rule: Rule): string {
  switch (rule.kind) {
    case "user":
    case "principal":
    case "anyone":
      return rule.kind;
    case "permission":
      return `permission:${rule.permission}`;
    case "delegated":
      return `delegated:${rule.checkedBy}`;
  }
}

function ruleLabel(name: string, fns: Map<string, Registered>): string | undefined {
  const rule = ruleOf(fns.get(name)!);
  return rule && label(rule);
}

describe("every public function names who may call it", () => {
  test("each is built with a rule, the one the table expects", () => {
    const actual: Record<string, string | undefined> = {};
    for (const name of PUBLIC.keys()) if (!LIBRARY_BUILT.has(name)) actual[name] = ruleLabel(name, PUBLIC);
    expect(actual).toEqual(EXPECTED);
  });

  test("the library-built exceptions are really public and really not ours", () => {
    for (const name of LIBRARY_BUILT) {
      expect(PUBLIC.has(name)).toBe(true);
      expect(ruleOf(PUBLIC.get(name)!)).toBeUndefined();
    }
  });

  test("the rules say why: a people-only function names what it refuses, an open one says why it is open", () => {
    for (const f of PUBLIC.values()) {
      const rule = ruleOf(f);
      if (rule?.kind === "user") expect(rule.action.length).toBeGreaterThan(3);
      if (rule?.kind === "anyone") expect(rule.why.length).toBeGreaterThan(10);
    }
  });

  test("each internal twin carries its public function's rule", () => {
    const twins = [...INTERNAL.keys()].filter((n) => n.endsWith("Internal") && PUBLIC.has(n.slice(0, -"Internal".length)));
    expect(twins.length).toBeGreaterThanOrEqual(13);
    for (const twin of twins) {
      const base = twin.slice(0, -"Internal".length);
      expect(ruleOf(INTERNAL.get(twin)!), twin).toEqual(ruleOf(PUBLIC.get(base)!));
    }
  });

  test("a delegating action names an internal function built with a caller rule", () => {
    for (const [name, f] of PUBLIC) {
      const rule = ruleOf(f);
      if (rule?.kind !== "delegated") continue;
      const target = INTERNAL.get(rule.checkedBy);
      expect(target, `${name} → ${rule.checkedBy}`).toBeDefined();
      expect(["user", "permission"]).toContain(ruleOf(target!)?.kind);
    }
  });
});

// ---- the rules hold when called -------------------------------------------------

type ValidatorJson = { type: string; value?: any; tableName?: string };

/** A value that passes the validator (the rule is checked before the handler looks at it). */
function sample(v: ValidatorJson, ids: Record<string, string>): unknown {
  switch (v.type) {
    case "string":
      return "x";
    case "number":
    case "float64":
      return 1;
    case "int64":
    case "bigint":
      return 1n;
    case "boolean":
      return false;
    case "null":
    case "any":
      return null;
    case "literal":
      return v.value;
    case "array":
      return [];
    case "record":
      return {};
    case "bytes":
      return new ArrayBuffer(0);
    case "union":
      return sample(v.value[0], ids);
    case "id":
      if (!(v.tableName! in ids)) throw new Error(`no sample id for table ${v.tableName}`);
      return ids[v.tableName!];
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, field] of Object.entries(v.value as Record<string, { fieldType: ValidatorJson; optional: boolean }>)) {
        if (!field.optional) out[k] = sample(field.fieldType, ids);
      }
      return out;
    }
    default:
      throw new Error(`no sample for validator type ${v.type}`);
  }
}

type Caller = {
  query: (ref: any, args: any) => Promise<unknown>;
  mutation: (ref: any, args: any) => Promise<unknown>;
  action: (ref: any, args: any) => Promise<unknown>;
};

async function callAs(who: Caller, name: string, f: Registered, ids: Record<string, string>) {
  const ref = makeFunctionReference<any, any, any>(name) as any;
  const args = sample(JSON.parse(f.exportArgs()) as ValidatorJson, ids);
  return f.isQuery ? who.query(ref, args) : f.isMutation ? who.mutation(ref, args) : who.action(ref, args);
}

/** Public functions with this rule kind, and their internal twins. */
function withRule(kind: Rule["kind"]): [string, Registered][] {
  const out: [string, Registered][] = [];
  for (const fns of [PUBLIC, INTERNAL]) {
    for (const [name, f] of fns) if (ruleOf(f)?.kind === kind) out.push([name, f]);
  }
  return out;
}

async function setup() {
  const w = await world();
  const pat = await patFor(w.t, w.alice, []); // the full role: only the builder stands in the way
  const agent = await agentSessionFor(w.t, w.alice.userId);
  const narrow = await patFor(w.t, w.alice, ["acme=work:read"]);
  const ids = { users: w.alice.userId as string };
  return { w, pat, agent, narrow, ids };
}

describe("people-only functions (userQuery, userMutation and their internal kin)", () => {
  test.each(withRule("user").map(([n]) => n))("%s refuses anonymous callers, PATs and agent sessions", async (name) => {
    const { w, pat, agent, ids } = await setup();
    const f = (PUBLIC.get(name) ?? INTERNAL.get(name))!;
    expect(await codeOf(callAs(w.t, name, f, ids))).toBe("unauthenticated");
    expect(await codeOf(callAs(pat.as, name, f, ids))).toBe("forbidden");
    expect(await messageOf(callAs(pat.as, name, f, ids))).toMatch(/sign in interactively/);
    expect(await codeOf(callAs(agent.as, name, f, ids))).toBe("forbidden");
  });
});

describe("credential functions (principalQuery, principalMutation)", () => {
  test.each(withRule("principal").map(([n]) => n))("%s refuses anonymous callers", async (name) => {
    const { w, ids } = await setup();
    const f = (PUBLIC.get(name) ?? INTERNAL.get(name))!;
    expect(await codeOf(callAs(w.t, name, f, ids))).toBe("unauthenticated");
  });
});

describe("permission functions (permissionQuery and its internal kin)", () => {
  test.each(withRule("permission").map(([n]) => n))("%s refuses anonymous callers and tokens without the permission", async (name) => {
    const { w, narrow, ids } = await setup();
    const f = (PUBLIC.get(name) ?? INTERNAL.get(name))!;
    const rule = ruleOf(f) as Extract<Rule, { kind: "permission" }>;
    expect(await codeOf(callAs(w.t, name, f, ids))).toBe("unauthenticated");
    expect(await messageOf(callAs(narrow.as, name, f, ids))).toBe(`this token lacks ${rule.permission}`);
  });
});
