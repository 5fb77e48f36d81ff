import { keyholeErrorData } from "../../shared/errors";

/** Bad flags or arguments: exit code 2. */
export class UsageError extends Error {}

/** A failure to report as one line on stderr: exit code 1. */
export class CliError extends Error {}

const SECRETISH = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

/** Never let a token leak through an error message. */
export function redact(text: string): string {
  return text.replace(SECRETISH, "[redacted token]");
}

/**
 * One clear line for any error: ConvexError data `{code, message}` becomes
 * `<message> (<code>)`; server errors lose their request-id prefix and stack;
 * network failures say which URL could not be reached.
 */
export function describeError(e: unknown, url?: string): string {
  const data = keyholeErrorData(e);
  if (data !== null) return redact(data.code !== null ? `${data.message} (${data.code})` : data.message);
  if (e instanceof Error) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (e.name === "TypeError" && /fetch failed/i.test(e.message)) {
      const why = cause?.code ? ` (${cause.code})` : "";
      return `cannot reach keyhole at ${url ?? "the backend"}${why}: is the backend running? (set --url or KEYHOLE_URL)`;
    }
    return redact(serverMessage(e.message));
  }
  return redact(String(e));
}

/** Turns a Convex server error message into its meaningful first line. */
export function serverMessage(raw: string): string {
  let text = raw.replace(/^\s*\[Request ID: [^\]]*\]\s*/, "");
  text = text.replace(/^Server Error\s*/, "");
  const uncaught = /Uncaught (?:\w*Error): ([^\n]*)/.exec(text);
  let line = (uncaught ? uncaught[1] : text.split("\n").find((l) => l.trim().length > 0) ?? "").trim();
  if (/^InvalidSecret\b|^InvalidAccountId\b/.test(line)) line = "wrong email or password";
  if (/^TooManyFailedAttempts\b/.test(line)) line = "too many failed sign-in attempts: try again later";
  if (/Invalid password/.test(line)) line = "the password is not acceptable (at least 8 characters)";
  if (/^Account .* already exists$/.test(line)) line = "an account with that email already exists: sign in without --signup";
  return line.length > 0 ? line : "server error";
}
