/**
 * Who may call a function is part of its definition: every public function
 * in convex/*.ts is built with one of these builders (convex-helpers'
 * customQuery/customMutation/customAction), so `grep` over convex/*.ts
 * answers "who may call this". The builder runs its check before the
 * handler and hands the caller to it (ctx.user, ctx.principal); what is left
 * inside convex/model/ are checks on a specific resource (authorizePath).
 *
 *   userQuery / userMutation            a person signed in through @convex-dev/auth → ctx.user
 *   principalQuery / principalMutation  any live credential (person, PAT, agent session) → ctx.principal
 *   permissionQuery                     any live credential holding a personal permission → ctx.principal
 *   anyoneQuery / anyoneMutation / anyoneAction  no caller check; `why` says what decides instead
 *   delegatingAction                    an action whose check is the internal function it runs as the caller
 *
 * A function the HTTP API and MCP run from their HTTP actions also gets an
 * internal twin (only internal functions are run from actions):
 *
 *   export const get = principalQuery({ args, returns, handler });
 *   export const getInternal = internalTwin(get);
 *
 * The twin is registered from the same definition with the same rule; the
 * caller's identity reaches it too (Convex passes it to runQuery), so the
 * same check decides on every surface. ruleOf() reads a function's rule
 * back (test/authorize/builders.test.ts checks every public function has one).
 */
import { customAction, customCtx, customMutation, customQuery } from "convex-helpers/server/customFunctions";
import {
  action,
  internalMutation,
  internalQuery,
  mutation,
  query,
  type MutationCtx,
  type QueryCtx,
} from "../_generated/server";
import type { DefaultFunctionArgs, RegisteredMutation, RegisteredQuery } from "convex/server";
import { authorize, type Authorized } from "./authorize";
import { keyholeError } from "./errors";
import { PERSONAL_PERMISSIONS, type Permission } from "./permissions";
import { requirePrincipal, requireUser, type Principal, type UserPrincipal } from "./principal";

/** The rule a builder put on a function. */
export type Rule =
  | { kind: "user"; action: string }
  | { kind: "principal" }
  | { kind: "permission"; permission: Permission }
  | { kind: "anyone"; why: string }
  | { kind: "delegated"; checkedBy: string };

export type UserQueryCtx = QueryCtx & { user: UserPrincipal };
export type UserMutationCtx = MutationCtx & { user: UserPrincipal };
export type PrincipalQueryCtx = QueryCtx & { principal: Principal };
export type PrincipalMutationCtx = MutationCtx & { principal: Principal };

type UserExtra = {
  /** Completes the refusal a PAT or agent session gets: "… sign in interactively to <action>". */
  action: string;
  /** Replaces that refusal (one message for every token). */
  refusal?: string;
};

const rules = new WeakMap<object, Rule>();
const twins = new WeakMap<object, () => unknown>();

/** The rule `fn` was built with, or undefined for a function built without one. */
export function ruleOf(fn: object): Rule | undefined {
  return rules.get(fn);
}

/**
 * Wraps a convex-helpers builder so the functions it registers remember
 * their rule (and, with `internal`, how to register their internal twin).
 */
function ruled<B extends (definition: any) => any>(
  builder: B,
  ruleFor: (definition: Record<string, unknown>) => Rule,
  internal?: (definition: any) => unknown,
): B {
  const wrapped = (definition: Record<string, unknown>) => {
    const rule = ruleFor(definition);
    const fn = builder(definition);
    rules.set(fn, rule);
    if (internal) {
      twins.set(fn, () => {
        const twin = internal(definition) as object;
        rules.set(twin, rule);
        return twin;
      });
    }
    return fn;
  };
  return wrapped as unknown as B;
}

/**
 * The internal twin of a public query or mutation built here: same args,
 * returns, handler and rule, registered as an internal function.
 */
export function internalTwin<Args extends DefaultFunctionArgs, Returns>(
  fn: RegisteredQuery<"public", Args, Returns>,
): RegisteredQuery<"internal", Args, Returns>;
export function internalTwin<Args extends DefaultFunctionArgs, Returns>(
  fn: RegisteredMutation<"public", Args, Returns>,
): RegisteredMutation<"internal", Args, Returns>;
export function internalTwin(fn: object): unknown {
  const register = twins.get(fn);
  if (register === undefined) throw new Error("internalTwin: not a query or mutation built in convex/model/functions.ts");
  return register();
}

// ---- the rules --------------------------------------------------------------

/** Only a person signed in through @convex-dev/auth; PATs and agent sessions get `forbidden`. */
const userRule = customCtx(async (ctx: QueryCtx, extra: UserExtra) => ({ user: await signedInUser(ctx, extra) }));

async function signedInUser(ctx: QueryCtx, extra: UserExtra): Promise<UserPrincipal> {
  if (extra.refusal === undefined) return await requireUser(ctx, extra.action);
  const p = await requirePrincipal(ctx);
  if (p.kind !== "user") throw keyholeError("forbidden", extra.refusal);
  return p;
}

/** Any live credential: a signed-in person, a PAT or an agent session. */
const principalRule = customCtx(async (ctx: QueryCtx) => ({ principal: await requirePrincipal(ctx) }));

/** Any live credential whose scopes grant a personal permission (a person always has them). */
const permissionRule = customCtx(async (ctx: QueryCtx | MutationCtx, extra: { permission: Permission }) => ({
  principal: (await authorize(ctx, extra.permission)) as Authorized,
}));

/** No caller check: the function's `why` says what decides (a token in its arguments, nothing secret). */
const anyoneRule = customCtx((_ctx: unknown, _extra: { why: string }) => ({}));

/** An action checks nothing itself: the internal function it runs with the caller's identity does. */
const delegatedRule = customCtx((_ctx: unknown, _extra: { checkedBy: string }) => ({}));

function userRuleOf(d: Record<string, unknown>): Rule {
  return { kind: "user", action: d.action as string };
}

function permissionRuleOf(d: Record<string, unknown>): Rule {
  const permission = d.permission as Permission;
  // Org-level permissions need an org: authorizePath in the handler, with principalQuery.
  if (!PERSONAL_PERMISSIONS.has(permission)) throw new Error(`permission builders take personal permissions, not ${permission}`);
  return { kind: "permission", permission };
}

// ---- the builders -----------------------------------------------------------

/** A query for a person signed in through @convex-dev/auth (PATs, agent sessions: `forbidden`); ctx.user. */
export const userQuery = ruled(customQuery(query, userRule), userRuleOf, customQuery(internalQuery, userRule));
/** A mutation for a person signed in through @convex-dev/auth (PATs, agent sessions: `forbidden`); ctx.user. */
export const userMutation = ruled(customMutation(mutation, userRule), userRuleOf, customMutation(internalMutation, userRule));

/** A query for any live credential (person, PAT, agent session); ctx.principal. Resource checks stay in the handler. */
export const principalQuery = ruled(customQuery(query, principalRule), () => ({ kind: "principal" }), customQuery(internalQuery, principalRule));
/** A mutation for any live credential (person, PAT, agent session); ctx.principal. Resource checks stay in the handler. */
export const principalMutation = ruled(
  customMutation(mutation, principalRule),
  () => ({ kind: "principal" }),
  customMutation(internalMutation, principalRule),
);

/** A query for any live credential holding the personal `permission` (authorize()); ctx.principal. */
export const permissionQuery = ruled(customQuery(query, permissionRule), permissionRuleOf, customQuery(internalQuery, permissionRule));

const anyoneRuleOf = (d: Record<string, unknown>): Rule => ({ kind: "anyone", why: d.why as string });
/** A query anyone may call; `why` names what decides instead of the caller. */
export const anyoneQuery = ruled(customQuery(query, anyoneRule), anyoneRuleOf, customQuery(internalQuery, anyoneRule));
/** A mutation anyone may call; `why` names what decides instead of the caller (e.g. possession of a token). */
export const anyoneMutation = ruled(customMutation(mutation, anyoneRule), anyoneRuleOf, customMutation(internalMutation, anyoneRule));
/** An action anyone may call; `why` names what decides instead of the caller. */
export const anyoneAction = ruled(customAction(action, anyoneRule), anyoneRuleOf);

/** An action whose check is the internal function it runs with the caller's identity, named in `checkedBy` ("module:function"). */
export const delegatingAction = ruled(customAction(action, delegatedRule), (d) => ({
  kind: "delegated",
  checkedBy: d.checkedBy as string,
}));

/** An internal mutation run by an action as its caller, for a signed-in person only; ctx.user. */
export const internalUserMutation = ruled(customMutation(internalMutation, userRule), userRuleOf);
/** An internal mutation run by an action as its caller, for a credential holding a personal permission; ctx.principal. */
export const internalPermissionMutation = ruled(customMutation(internalMutation, permissionRule), permissionRuleOf);
