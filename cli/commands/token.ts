/** keyhole token create | list | get | revoke | regenerate | update — needs `keyhole login` (a PAT cannot manage PATs). */
import { type Command, InvalidArgumentError, Option } from "commander";
import { api } from "../../convex/_generated/api.js";
import type { Id } from "../../convex/_generated/dataModel";
import { formatScopes } from "../../shared/scopes";
import { type GlobalOptions, loginClient } from "../lib/client";
import { DurationError, formatDuration, parseDuration } from "../lib/duration";
import { CliError, UsageError } from "../lib/errors";
import { fields, isTTY, iso, note, out, printJson, relative, table, tsv } from "../lib/output";
import { describeScopes, scopesFromFlags } from "../lib/scopes";
import type { ConvexHttpClient } from "convex/browser";
import type { FunctionReturnType } from "convex/server";

/** A token as `token list` gets it, and with its last use as `token get` gets it: the backend's declared return types. */
type TokenInfo = FunctionReturnType<typeof api.auth.listApiTokens>["tokens"][number];
type TokenDetails = FunctionReturnType<typeof api.auth.getApiToken>;

/**
 * Last use as recorded: mutations, actions, HTTP API and MCP calls, at most
 * once a minute. Reads through Convex queries cannot be recorded, so "none" is
 * "none recorded", never "never".
 */
export const NO_RECORDED_USE = "none recorded";

/** The short identifier: the token text's last characters, e.g. "…x7Qe2A". */
export function hintLabel(hint: string | undefined): string {
  return hint ? `…${hint}` : "-";
}

/** The stable JSON shape of a token in `list --json` and `get --json`. */
export function tokenJson(t: TokenInfo | TokenDetails) {
  const base = {
    tokenId: t._id,
    name: t.name,
    type: t.type,
    description: t.description,
    scopes: t.scopes,
    status: t.status,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    hint: t.hint ?? null,
  };
  return "lastUsedIp" in t
    ? { ...base, lastUsedIp: t.lastUsedIp ?? null, lastUsedUserAgent: t.lastUsedUserAgent ?? null }
    : base;
}

/** commander argParser for duration flags: bad input is a usage error (exit 2). */
export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (e) {
    if (e instanceof DurationError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const STATUSES = ["active", "expired", "revoked", "all"] as const;

async function findByName(
  client: ConvexHttpClient,
  name: string,
  status: "active" | "all",
): Promise<TokenInfo> {
  const { tokens } = await client.query(api.auth.listApiTokens, { status });
  const matches = tokens.filter((t) => t.name === name);
  // An active token wins; otherwise the newest one with that name.
  const hit = matches.find((t) => t.status === "active") ?? matches[0];
  if (!hit) {
    throw new CliError(`no ${status === "active" ? "active " : ""}token named "${name}" (see keyhole token list)`);
  }
  return hit;
}

/** The --name / --id pair naming one token: `active` = only an active token may be named. */
function nameOrId(cmd: Command, which: "active" | "any"): Command {
  const name = which === "active" ? "the active token's name" : "the token's name (an active token first, else the newest with that name)";
  return cmd.option("--name <name>", name).option("--id <tokenId>", "the token's id instead of its name");
}

function requireOneOf(opts: { name?: string; id?: string }): void {
  if (opts.name === undefined && opts.id === undefined) throw new UsageError("give the token's --name (or its --id)");
  if (opts.name !== undefined && opts.id !== undefined) throw new UsageError("give --name or --id, not both");
}

/** The signed-in client and the id of the token --name or --id names (by name: `status` tokens only). */
async function targetToken(opts: { name?: string; id?: string }, globals: () => GlobalOptions, status: "active" | "all") {
  requireOneOf(opts);
  const { client } = await loginClient(globals());
  const tokenId = (opts.id ?? (await findByName(client, opts.name!, status))._id) as Id<"apiTokens">;
  return { client, tokenId };
}

export function registerTokenCommands(program: Command, globals: () => GlobalOptions): void {
  const token = program
    .command("token")
    .description("personal access tokens: create, list, get, revoke, regenerate, update (needs keyhole login)");
  createCommand(token, globals);
  listCommand(token, globals);
  getCommand(token, globals);
  revokeCommand(token, globals);
  regenerateCommand(token, globals);
  updateCommand(token, globals);
}

/** `token create`: mints a PAT and prints it once. */
function createCommand(token: Command, globals: () => GlobalOptions): void {
  token
    .command("create")
    .description("create a personal access token; prints it once")
    .requiredOption("--name <name>", "a unique name among your active tokens (letters, digits, _ and -)")
    .addOption(
      new Option("--scope <scope>", "org/workspace=perms, org=perms or perms (repeatable); none or * = your full role except connections:use, which applies only when named")
        .argParser(collect)
        .conflicts("scopesJson"),
    )
    .addOption(
      new Option("--scopes-json <json>", 'scope entries as JSON: [{"resource","permissions","allowedMatches"}]').conflicts(
        "scope",
      ),
    )
    .option("-d, --description <text>", "what the token is for")
    .option("--expires <duration>", "lifetime: 30m, 12h, 90d, 1y (default 30d, at most 365d)", durationArg)
    .addOption(new Option("--type <type>", "label: PAT or MCP").choices(["PAT", "MCP"]).default("PAT"))
    .option("--json", "print {token, tokenId, name, scopes, expiresAt} on stdout")
    .addHelpText(
      "after",
      `
Examples:
  keyhole token create --name ci --scope acme/site=work:read,work:write --expires 90d
  keyhole token create --name reader --scope acme=work:read --scope tokens:read
  keyhole token create --name signals --scopes-json \\
    '[{"resource":"acme/site","permissions":["work:read"],"allowedMatches":["Signal/*"]}]'`,
    )
    .action(
      async (opts: {
        name: string;
        scope?: string[];
        scopesJson?: string;
        description?: string;
        expires?: number;
        type: "PAT" | "MCP";
        json?: boolean;
      }) => {
        const scopes = scopesFromFlags(opts);
        const { client } = await loginClient(globals());
        const created = await client.mutation(api.auth.createApiToken, {
          name: opts.name,
          scopes,
          ...(opts.expires !== undefined ? { expiresIn: opts.expires } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          type: opts.type,
        });
        for (const w of created.warnings ?? []) note(`warning: ${w}`);
        if (opts.json) {
          printJson({
            token: created.token,
            tokenId: created.tokenId,
            name: created.name,
            scopes: created.scopes,
            expiresAt: created.expiresAt,
          });
        } else {
          note(
            `Created ${opts.type} "${created.name}" (${created.tokenId}), expires ${iso(created.expiresAt)}` +
              (opts.expires !== undefined ? ` (${formatDuration(opts.expires)})` : ""),
          );
          note(`Scopes: ${describeScopes(created.scopes)}`);
          out(created.token);
        }
        note("Save this token now: it is shown only once and cannot be recovered.");
      },
    );
}

/** `token list`: a table on a terminal, tab-separated lines otherwise, or JSON. */
function listCommand(token: Command, globals: () => GlobalOptions): void {
  token
    .command("list")
    .description("list your tokens (a table on a terminal, tab-separated lines otherwise)")
    .addOption(new Option("--status <status>", "which tokens").choices(STATUSES).default("active"))
    .option("--json", 'print {"tokens": [{tokenId, name, type, description, scopes, status, createdAt, expiresAt, lastUsedAt, revokedAt, hint}]}')
    .addHelpText(
      "after",
      `
Tab-separated columns (when stdout is not a terminal):
  name  tokenId  type  status  scopes  expiresAt  lastUsedAt(or -)
Times in JSON are milliseconds since the epoch. ID is the end of the token
text ("…x7Qe2A"): match a token you found to its row. LAST USED counts
mutations, actions, HTTP and MCP calls (at most once a minute); reads through
Convex queries are not recorded.`,
    )
    .action(async (opts: { status: (typeof STATUSES)[number]; json?: boolean }) => {
      const { client } = await loginClient(globals());
      const { tokens } = await client.query(api.auth.listApiTokens, { status: opts.status });
      const list = tokens;
      if (opts.json) {
        printJson({ tokens: list.map(tokenJson) });
        return;
      }
      if (isTTY()) {
        if (list.length === 0) {
          out(`No ${opts.status === "all" ? "" : opts.status + " "}tokens. Create one with: keyhole token create --name NAME`);
          return;
        }
        const now = Date.now();
        out(
          table(
            ["NAME", "ID", "TYPE", "STATUS", "SCOPES", "EXPIRES", "LAST USED"],
            list.map((t) => [
              t.name,
              hintLabel(t.hint),
              t.type,
              t.status,
              formatScopes(t.scopes).join(" "),
              t.status === "revoked" ? "-" : relative(t.expiresAt, now),
              t.lastUsedAt === null ? NO_RECORDED_USE : relative(t.lastUsedAt, now),
            ]),
          ),
        );
        return;
      }
      if (list.length > 0) {
        out(
          tsv(
            list.map((t) => [
              t.name,
              t._id,
              t.type,
              t.status,
              formatScopes(t.scopes).join(" "),
              iso(t.expiresAt) ?? "-",
              iso(t.lastUsedAt) ?? "-",
            ]),
          ),
        );
      }
    });
}

/** `token get`: one token's details, never its text. */
function getCommand(token: Command, globals: () => GlobalOptions): void {
  nameOrId(token.command("get").description("show one token's details (never its text)"), "any")
    .option("--json", "print the token's details as JSON")
    .action(async (opts: { name?: string; id?: string; json?: boolean }) => {
      const { client, tokenId } = await targetToken(opts, globals, "all");
      const t = await client.query(api.auth.getApiToken, { tokenId });
      if (opts.json) {
        printJson(tokenJson(t));
        return;
      }
      const now = Date.now();
      const lastUse =
        t.lastUsedAt === null
          ? `${NO_RECORDED_USE} (mutations, actions, HTTP and MCP calls are recorded; Convex queries are not)`
          : `${iso(t.lastUsedAt)} (${relative(t.lastUsedAt, now)})` +
            [t.lastUsedIp, t.lastUsedUserAgent].filter(Boolean).map((x) => ` ${x}`).join("");
      const pairs: [string, string][] = [
        ["name", t.name],
        ["id", t._id],
        ["ends in", hintLabel(t.hint)],
        ["type", t.type],
        ["status", t.status],
        ["description", t.description ?? "-"],
        ["scopes", describeScopes(t.scopes)],
        ["created", iso(t.createdAt) ?? "-"],
        ["expires", t.status === "revoked" ? "-" : `${iso(t.expiresAt)} (${relative(t.expiresAt, now)})`],
        ["last used", lastUse],
      ];
      if (t.revokedAt !== null) pairs.push(["revoked", iso(t.revokedAt)!]);
      out(fields(pairs));
    });
}

/** `token revoke`: by name or id; its agent sessions end with it. */
function revokeCommand(token: Command, globals: () => GlobalOptions): void {
  nameOrId(token.command("revoke").description("revoke a token now (its agent sessions end with it)"), "active")
    .option("--json", "print {tokenId, name, revokedAt, changed, sessionsEnded}")
    .action(async (opts: { name?: string; id?: string; json?: boolean }) => {
      const { client, tokenId } = await targetToken(opts, globals, "active");
      const name = opts.name ?? (await client.query(api.auth.getApiToken, { tokenId })).name;
      const r = await client.mutation(api.auth.revokeApiToken, { tokenId });
      if (opts.json) {
        printJson({
          tokenId: r.tokenId,
          name,
          revokedAt: r.revokedAt,
          changed: r.changed,
          sessionsEnded: r.sessionsEnded,
        });
        return;
      }
      if (!r.changed) {
        note(`Token "${name}" (${r.tokenId}) was already revoked.`);
        return;
      }
      const ended = r.sessionsEnded > 0 ? `; ended ${r.sessionsEnded} agent session${r.sessionsEnded === 1 ? "" : "s"}` : "";
      note(`Revoked token "${name}" (${r.tokenId})${ended}.`);
    });
}

/** `token regenerate`: a new secret, the old one kept for --grace. */
function regenerateCommand(token: Command, globals: () => GlobalOptions): void {
  nameOrId(token.command("regenerate").description("a new secret with the same settings; the old one keeps working for --grace, then stops"), "active")
    .option("--grace <duration>", "how long the old secret keeps working: 0 to 7d (default 0: it stops now)", graceArg)
    .option("--json", "print {token, tokenId, name, scopes, expiresAt, previousTokenId, previousExpiresAt}")
    .addHelpText("after", "\nExample (swap a deploy secret without downtime):\n  keyhole token regenerate --name ci --grace 1h")
    .action(async (opts: { name?: string; id?: string; grace?: number; json?: boolean }) => {
      const { client, tokenId } = await targetToken(opts, globals, "all");
      const r = await client.mutation(api.auth.regenerateApiToken, {
        tokenId,
        ...(opts.grace !== undefined ? { graceSeconds: opts.grace } : {}),
      });
      for (const w of r.warnings ?? []) note(`warning: ${w}`);
      if (opts.json) {
        const { warnings: _w, ...rest } = r;
        printJson(rest);
      } else {
        note(`Regenerated "${r.name}": new id ${r.tokenId}, expires ${iso(r.expiresAt)}`);
        note(
          r.previousExpiresAt > Date.now()
            ? `The old secret (${r.previousTokenId}) keeps working until ${iso(r.previousExpiresAt)}.`
            : `The old secret (${r.previousTokenId}) has stopped working.`,
        );
        out(r.token);
      }
      note("Save this token now: it is shown only once and cannot be recovered.");
    });
}

/** `token update` (alias edit): new name and/or description. */
function updateCommand(token: Command, globals: () => GlobalOptions): void {
  nameOrId(token.command("update").alias("edit").description("rename a token or change its description (also: keyhole token edit)"), "any")
    .option("--new-name <name>", "its new name")
    .option("-d, --description <text>", 'its new description ("" clears it)')
    .option("--json", "print the token's details as JSON")
    .action(async (opts: { name?: string; id?: string; newName?: string; description?: string; json?: boolean }) => {
      requireOneOf(opts);
      if (opts.newName === undefined && opts.description === undefined) throw new UsageError("give --new-name and/or --description");
      const { client, tokenId } = await targetToken(opts, globals, "all");
      const t = await client.mutation(api.auth.updateApiToken, {
        tokenId,
        ...(opts.newName !== undefined ? { name: opts.newName } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      });
      if (opts.json) return printJson(tokenJson(t));
      note(`Updated token "${t.name}" (${t._id}).`);
    });
}

/** --grace: 0 (plain seconds) up to 7 days. */
function graceArg(value: string): number {
  if (/^\s*0+\s*[smhdwy]?\s*$/.test(value)) return 0;
  const s = durationArg(value);
  if (s > 7 * 86_400) throw new InvalidArgumentError(`"${value}" is longer than 7 days`);
  return s;
}
