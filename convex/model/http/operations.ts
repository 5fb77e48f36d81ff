/**
 * One operation of keyhole's request surfaces: what the HTTP API routes and
 * what the MCP endpoint offers as a tool are the same table (table.ts):
 *
 *   { name, access, args, returns, fields, run, http?, mcp? }
 *
 * - `args` are Convex validators (the same ones the Convex functions use);
 *   the request schemas are derived from them (`fieldSchemas`, convex-helpers'
 *   convexToZod), with the surface's limits and descriptions in `fields`.
 * - `run` does the work, as the caller, through the internal twins of the
 *   public Convex functions (convex/model/functions.ts): the one authorize()
 *   decides access exactly as it does for every other client.
 * - `http` routes it (api.ts, on Hono); `mcp` lists it as a tool (mcpServer.ts).
 * Results are shaped and errors rendered in one place (render.ts).
 */
import { convexToZodFields, type ZodValidatorFromConvex } from "convex-helpers/server/zod4";
import type { Infer, ObjectType, PropertyValidators, Validator } from "convex/values";
import { z } from "zod";
import type { ActionCtx } from "../../_generated/server";
import type { Permission } from "../permissions";
import type { Who } from "./authn";

/**
 * Who may run an operation. The Convex function it calls enforces it; the
 * surfaces use it to ask for a credential (everything but "public") and, for
 * a permission, to list and pre-refuse MCP tools (authn.allowedPermissions).
 */
export type Access =
  | "public" // no credential: the body carries what is checked (a refresh token, a leaked token)
  | "credential" // any live credential; the function decides what it may see
  | "person" // a signed-in person: the function refuses tokens (forbidden)
  | Permission; // a credential that holds this permission for what it names

/** What an operation runs with. */
export type OpCtx = {
  ctx: ActionCtx;
  req: Request;
  /** The authenticated caller (null only for "public" operations). */
  who: Who | null;
  /** The bearer token presented ("" for "public" operations). */
  token: string;
  /** Refuses an org the surface may not reach (MCP: the org's token policy on MCP clients). */
  checkOrg: (org: string) => Promise<void>;
};

/** Surface rules for one field: limits and descriptions on the schema derived from its validator. */
type FieldRule<V> = V extends Validator<any, any, any> ? (derived: ZodValidatorFromConvex<V>) => z.ZodType : never;
export type FieldRules<Args extends PropertyValidators> = { [K in keyof Args]?: FieldRule<Args[K]> };

/** The parts of an HTTP request an operation's arguments come from (api.ts). */
export type HttpInput = {
  req: Request;
  url: URL;
  params: Record<string, string>;
  /** The body (JSON, or a form when `allowForm`) parsed with the operation's field schemas; `strict` refuses other fields. */
  body: (opts: { allowForm?: boolean; strict: boolean }) => Promise<Record<string, unknown>>;
};

export type HttpBinding = {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** A Hono path pattern under /api/. */
  path: string;
  /** The success status (default 200). */
  status?: 200 | 201 | 202;
  /** The operation's arguments from the request (default: none). */
  input?: (r: HttpInput) => Promise<Record<string, unknown>> | Record<string, unknown>;
};

export type McpBinding = { description: string; readOnly: boolean; destructive?: boolean };

export type Operation<
  Args extends PropertyValidators = PropertyValidators,
  Returns extends Validator<any, "required", any> = Validator<any, "required", any>,
> = {
  /** The MCP tool name; also the operation's name in logs and docs. */
  name: string;
  access: Access;
  args: Args;
  returns: Returns;
  fields?: FieldRules<Args>;
  run: (c: OpCtx, args: ObjectType<Args>) => Promise<Infer<Returns>>;
  http?: HttpBinding;
  mcp?: McpBinding;
};

/** Declares an operation (typed: `run` gets `args`' type and must return `returns`' type). */
export function operation<Args extends PropertyValidators, Returns extends Validator<any, "required", any>>(
  op: Operation<Args, Returns>,
): Operation {
  return op as unknown as Operation;
}

/** Derived once per operation (every MCP request lists its tools' schemas). */
const derivedSchemas = new WeakMap<Operation, Record<string, z.ZodType>>();

/**
 * The request schema of each field: derived from its Convex validator, then
 * the surface's rule for it (limits, description) where there is one.
 */
export function fieldSchemas(op: Operation): Record<string, z.ZodType> {
  let schemas = derivedSchemas.get(op);
  if (schemas === undefined) {
    const derived = convexToZodFields(op.args) as Record<string, z.ZodType>;
    const rules = (op.fields ?? {}) as Record<string, ((d: z.ZodType) => z.ZodType) | undefined>;
    schemas = Object.fromEntries(Object.entries(derived).map(([k, d]) => [k, rules[k]?.(d) ?? d]));
    derivedSchemas.set(op, schemas);
  }
  return schemas;
}

/** The permission an operation needs, when it names one. */
export function permissionOf(op: Operation): Permission | null {
  return op.access === "public" || op.access === "credential" || op.access === "person" ? null : op.access;
}
