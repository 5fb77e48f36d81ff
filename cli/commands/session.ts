/**
 * keyhole session create | refresh | end — short-lived agent sessions.
 * Made for scripts: `--json` everywhere, secrets from stdin rather than argv.
 */
import { type Command, Option } from "commander";
import { api } from "../../convex/_generated/api.js";
import { keyholeError } from "../../shared/errors";
import { agentClient, anonymousClient, type GlobalOptions } from "../lib/client";
import { UsageError } from "../lib/errors";
import { iso, note, out, printJson } from "../lib/output";
import { readStdin, stdinIsTTY } from "../lib/prompt";
import { scopesFromFlags } from "../lib/scopes";
import { durationArg } from "./token";

type SessionPair = { token: string; refreshToken?: string; sessionId: string; expiresAt: number };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A secret from stdin: the raw value on the first line, or the JSON printed
 * by `session create --json` / `session refresh --json` (its `field`).
 */
export function secretFromInput(text: string, field: "token" | "refreshToken"): string | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0) return undefined;
  if (trimmed.startsWith("{")) {
    try {
      const v = (JSON.parse(trimmed) as Record<string, unknown>)[field];
      return typeof v === "string" && v.length > 0 ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return trimmed.split(/\r?\n/)[0].trim() || undefined;
}

function printPair(p: SessionPair, json: boolean | undefined, agentId?: string): void {
  if (json) {
    printJson({
      token: p.token,
      ...(p.refreshToken !== undefined ? { refreshToken: p.refreshToken } : {}),
      sessionId: p.sessionId,
      expiresAt: p.expiresAt,
      ...(agentId !== undefined ? { agentId } : {}),
    });
  } else {
    note(`Agent session ${p.sessionId}${agentId ? ` for "${agentId}"` : ""}, expires ${iso(p.expiresAt)}`);
    out(`token: ${p.token}`);
    if (p.refreshToken !== undefined) out(`refresh token: ${p.refreshToken}`);
    else note("No new refresh token: the one you hold stays valid (a session token never yields one).");
  }
  note("Save these now: they are shown only once. Use --json in scripts.");
}

export function registerSessionCommands(program: Command, globals: () => GlobalOptions): void {
  const session = program
    .command("session")
    .description("short-lived agent sessions: create, refresh, end");
  createCommand(session, globals);
  refreshCommand(session, globals);
  endCommand(session, globals);
}

/** `session create`: starts an agent session and prints its pair once. */
function createCommand(session: Command, globals: () => GlobalOptions): void {
  session
    .command("create")
    .description("start an agent session (as KEYHOLE_TOKEN when set, else as the stored login)")
    .requiredOption("--agent <id>", "the agent's id (free text, e.g. build-bot)")
    .option("--ttl <duration>", "lifetime: 5m, 1h, 12h (default 1h)", durationArg)
    .addOption(
      new Option("--scope <scope>", "narrow the session: org/workspace=perms, org=perms or perms (repeatable)").argParser(
        collect,
      ),
    )
    .option("--metadata <json>", "a JSON object stored with the session")
    .option("--json", "print {token, refreshToken, sessionId, expiresAt, agentId}")
    .addHelpText(
      "after",
      `
A session made from a PAT is its child: scopes within the PAT's, expiry no
later than the PAT's, and it ends when the PAT is revoked.

  KEYHOLE_TOKEN=$PAT keyhole session create --agent bot --ttl 15m --json > session.json
  keyhole session refresh --json < session.json > next.json
  keyhole session end < next.json`,
    )
    .action(async (opts: { agent: string; ttl?: number; scope?: string[]; metadata?: string; json?: boolean }) => {
      const scopes = opts.scope ? scopesFromFlags({ scope: opts.scope }) : undefined;
      let metadata: unknown;
      if (opts.metadata !== undefined) {
        try {
          metadata = JSON.parse(opts.metadata);
        } catch (e) {
          throw new UsageError(`--metadata is not valid JSON: ${(e as Error).message}`);
        }
        if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
          throw new UsageError("--metadata must be a JSON object");
        }
      }
      const { client } = await agentClient(globals());
      const created = (await client.mutation(api.auth.createSession, {
        agentId: opts.agent,
        ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
        ...(scopes !== undefined ? { scopes } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
      })) as SessionPair;
      printPair(created, opts.json, opts.agent);
    });
}

/** `session refresh`: exchanges a refresh token (or a live session token) for a new token. */
function refreshCommand(session: Command, globals: () => GlobalOptions): void {
  session
    .command("refresh")
    .description(
      "exchange the refresh token for a new pair (ends every other token of the session), or a live session token for a new session token only",
    )
    .option("--refresh-token <token>", "the refresh token (default: read from stdin)")
    .option("--token <token>", "refresh with the current, unexpired session token instead (no refresh token back, no later expiry)")
    .option("--ttl <duration>", "lifetime of the new session token", durationArg)
    .option("--json", "print {token, refreshToken, sessionId, expiresAt}")
    .addHelpText(
      "after",
      `
Stdin may hold the refresh token on its first line, or the JSON printed by
"session create --json" (its refreshToken is used). Prefer stdin: command-line
arguments are visible to other users of the machine.`,
    )
    .action(async (opts: { refreshToken?: string; token?: string; ttl?: number; json?: boolean }) => {
      if (opts.refreshToken !== undefined && opts.token !== undefined) {
        throw new UsageError("give --refresh-token or --token, not both");
      }
      let args: { refreshToken: string } | { token: string };
      if (opts.token !== undefined) args = { token: opts.token };
      else if (opts.refreshToken !== undefined) args = { refreshToken: opts.refreshToken };
      else {
        if (stdinIsTTY()) throw new UsageError("give --refresh-token, --token, or pipe the refresh token on stdin");
        const rt = secretFromInput(await readStdin(), "refreshToken");
        if (rt === undefined) throw new UsageError("no refresh token on stdin");
        args = { refreshToken: rt };
      }
      const { client } = anonymousClient(globals());
      const result = await client.mutation(api.auth.refreshSession, {
        ...args,
        ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
      });
      // A refusal is a result (a replay's revocation must commit), not an error.
      if (!result.ok) throw keyholeError(result.code, result.message);
      const { ok: _ok, ...pair } = result;
      printPair(pair, opts.json);
    });
}

/** `session end`: ends an agent session now. */
function endCommand(session: Command, globals: () => GlobalOptions): void {
  session
    .command("end")
    .description("end an agent session now")
    .option("--token <token>", "the session token (default: stdin, else KEYHOLE_TOKEN)")
    .option("--json", 'print {"ended": true}')
    .addHelpText(
      "after",
      `
Stdin may hold the session token on its first line, or the JSON printed by
"session create --json" / "session refresh --json".`,
    )
    .action(async (opts: { token?: string; json?: boolean }) => {
      let token = opts.token;
      if (token === undefined && !stdinIsTTY()) token = secretFromInput(await readStdin(), "token");
      if (token === undefined) token = process.env.KEYHOLE_TOKEN?.trim() || undefined;
      if (token === undefined) throw new UsageError("give --token, pipe the session token on stdin, or set KEYHOLE_TOKEN");
      const { client } = anonymousClient(globals());
      await client.mutation(api.auth.endSession, { token });
      if (opts.json) printJson({ ended: true });
      else note("Session ended.");
    });
}
