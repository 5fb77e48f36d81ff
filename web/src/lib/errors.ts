import { keyholeErrorData, type ErrorInfo } from "../../../shared/errors";

export type { ErrorInfo };

/** What to show for an error: the keyhole `{code, message}` when there is one. */
export function describeError(e: unknown): ErrorInfo {
  const data = keyholeErrorData(e);
  if (data !== null) return data;
  if (e instanceof Error) {
    // Server errors arrive as "[Request ID: …] Server Error\nUncaught Error: …";
    // keep the human part.
    const m = /Uncaught (?:Error: )?([^\n]+)/.exec(e.message);
    if (m) return { code: null, message: m[1] };
    if (/InvalidSecret|InvalidAccountId/.test(e.message)) return { code: "unauthenticated", message: "Email or password is incorrect." };
    if (/Failed to fetch|NetworkError|network/i.test(e.message)) {
      return { code: null, message: "Can't reach the keyhole backend. Check that it is running." };
    }
    return { code: null, message: e.message.split("\n")[0] || "Something went wrong." };
  }
  return { code: null, message: "Something went wrong." };
}

export function errorMessage(e: unknown): string {
  return describeError(e).message;
}

/** A query failing this way means this sign-in is over (signed out elsewhere, expired). */
export function isSignedOutError(e: unknown): boolean {
  const { code, message } = describeError(e);
  return code === "unauthenticated" || /this sign-in has ended/.test(message);
}
