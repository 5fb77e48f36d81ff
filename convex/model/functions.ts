/**
 * One definition (args, returns, handler) for a function that is registered
 * twice: as the public function clients call, and as an internal twin that
 * the HTTP API and MCP endpoint run from their HTTP actions (only internal
 * functions are run from actions). Both registrations share the validators
 * and the handler, so they cannot drift apart; the caller's identity reaches
 * the internal twin too, so the same requirePrincipal()/authorize() decide.
 *
 *   const get_ = queryDefinition({ args, returns, handler });
 *   export const get = query(get_);
 *   export const getInternal = internalQuery(get_);
 */
import type { Infer, ObjectType, PropertyValidators, Validator } from "convex/values";
import type { MutationCtx, QueryCtx } from "../_generated/server";

type Definition<Ctx, Args extends PropertyValidators, Returns extends Validator<any, "required", any>> = {
  args: Args;
  returns: Returns;
  handler: (ctx: Ctx, args: ObjectType<Args>) => Promise<Infer<Returns>>;
};

/** A query definition with validators for both its arguments and its result. */
export function queryDefinition<Args extends PropertyValidators, Returns extends Validator<any, "required", any>>(
  definition: Definition<QueryCtx, Args, Returns>,
): Definition<QueryCtx, Args, Returns> {
  return definition;
}

/** A mutation definition with validators for both its arguments and its result. */
export function mutationDefinition<Args extends PropertyValidators, Returns extends Validator<any, "required", any>>(
  definition: Definition<MutationCtx, Args, Returns>,
): Definition<MutationCtx, Args, Returns> {
  return definition;
}
