/**
 * Convex's auth semantics for a token it rejects.
 *
 * On Convex, `/api/query|mutation|action` and the sync socket refuse such a
 * request outright (401 / AuthError; see request.ts and sync.ts). An HTTP
 * action still runs: the header "may be something separate managed by the
 * developer", so the action gets `Identity::Unknown(error)` and
 * `ctx.auth.getUserIdentity()` throws that error
 * (get-convex/convex-backend: crates/local_backend/src/http_actions.rs,
 * `http_any_method`; crates/isolate/src/environment/action/task_executor.rs,
 * `user_identity`). Queries and mutations it runs see no identity (null):
 * a transaction's `user_identity()` is None for Unknown
 * (crates/database/src/transaction.rs).
 *
 * convex-test has no such identity, so the engine passes a marked identity
 * (`rejectedIdentity`) and we patch its AuthFake's getUserIdentity: it
 * throws inside an HTTP action or action, and answers null inside a query or
 * mutation.
 *
 * A valid identity is handed out as a fresh copy on every call (through JSON), as Convex's
 * `getUserIdentity` is a syscall whose JSON answer is parsed anew each time
 * (the convex package: src/server/impl/authentication_impl.ts, syscall.ts): a function that changes
 * the object it got changes nothing another call sees — the engine reuses one
 * accessor per identity across requests (engine.ts).
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import type { UserIdentity } from "convex/server";

const REJECTED = Symbol("keyhole.rejectedToken");

/** The identity to run an HTTP action with when the request's token was rejected. */
export function rejectedIdentity(message: string): UserIdentity {
  return { [REJECTED]: message } as unknown as UserIdentity;
}

type AuthFake = { _userIdentity: Record<PropertyKey, unknown> | null; getUserIdentity(): Promise<unknown> };

/**
 * Patches convex-test's AuthFake (its prototype, reached through an instance)
 * once. `executionContext` is convex-test's store of the running function's
 * `udfType` ("http", "action", "query", "mutation").
 */
export function installRejectedIdentity(
  authFakePrototype: AuthFake,
  executionContext: AsyncLocalStorage<{ udfType?: string }>,
): void {
  if ((authFakePrototype as { [REJECTED]?: true })[REJECTED]) return;
  const original = authFakePrototype.getUserIdentity;
  authFakePrototype.getUserIdentity = function (this: AuthFake) {
    const message = this._userIdentity?.[REJECTED];
    if (typeof message !== "string") return original.call(this).then((id) => (id === null ? null : JSON.parse(JSON.stringify(id))));
    const udfType = executionContext.getStore()?.udfType;
    if (udfType === "http" || udfType === "action") return Promise.reject(new Error(message));
    return Promise.resolve(null);
  };
  (authFakePrototype as { [REJECTED]?: true })[REJECTED] = true;
}
