import { useQueries, type RequestForQueries } from "convex/react";
import type { FunctionArgs, FunctionReference, FunctionReturnType } from "convex/server";
import { getFunctionName } from "convex/server";
import { useMemo } from "react";

export type Live<T> = { status: "loading" } | { status: "error"; error: Error } | { status: "ready"; data: T };

/**
 * A live query (a subscription: it re-renders on every change) that reports
 * loading and errors as values instead of throwing, so each panel can show
 * its own loading / error state.
 */
export function useLive<Q extends FunctionReference<"query">>(query: Q, args: FunctionArgs<Q> | "skip"): Live<FunctionReturnType<Q>> {
  const name = getFunctionName(query);
  const key = args === "skip" ? "skip" : JSON.stringify(args);
  const queries = useMemo(
    (): RequestForQueries => (args === "skip" ? {} : { q: { query, args: args as RequestForQueries[string]["args"] } }),
    // Re-subscribe only when the function or the arguments' value changes.
    [name, key],
  );
  const result = useQueries(queries).q as FunctionReturnType<Q> | Error | undefined;
  if (result === undefined) return { status: "loading" };
  if (result instanceof Error) return { status: "error", error: result };
  return { status: "ready", data: result };
}

/** Several live queries of the same function, keyed; each result reported separately. */
export function useLiveMany<Q extends FunctionReference<"query">>(
  query: Q,
  argsByKey: Record<string, FunctionArgs<Q>>,
): Record<string, Live<FunctionReturnType<Q>>> {
  const name = getFunctionName(query);
  const key = JSON.stringify(argsByKey);
  const queries = useMemo(() => {
    const out: RequestForQueries = {};
    for (const [k, a] of Object.entries(argsByKey)) out[k] = { query, args: a as RequestForQueries[string]["args"] };
    return out;
    // Re-subscribe only when the function or the arguments' value changes.
  }, [name, key]);
  const results = useQueries(queries);
  const out: Record<string, Live<FunctionReturnType<Q>>> = {};
  for (const k of Object.keys(argsByKey)) {
    const r = results[k] as FunctionReturnType<Q> | Error | undefined;
    out[k] = r === undefined ? { status: "loading" } : r instanceof Error ? { status: "error", error: r } : { status: "ready", data: r };
  }
  return out;
}
