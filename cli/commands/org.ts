/**
 * keyhole org tokens | revoke-token | invite | accept | policy — org
 * governance for owners and admins (accept: anyone invited). Needs keyhole login.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import type { FunctionReturnType } from "convex/server";
import { api } from "../../convex/_generated/api.js";
import { type GlobalOptions, loginClient } from "../lib/client";
import { DurationError, parseDuration } from "../lib/duration";
import { UsageError } from "../lib/errors";
import { isTTY, iso, note, out, printJson, relative, table, tsv } from "../lib/output";
import { ROLES } from "../../shared/permissions";
import { formatScopes } from "../../shared/scopes";
import { durationArg } from "./token";

/** One row of `api.orgs.listOrgTokens`, as the backend declares it. */
type OrgTokenPage = FunctionReturnType<typeof api.orgs.listOrgTokens>;
type OrgToken = OrgTokenPage["page"][number];

/** `7d` → 7, `none` → null: whole days for policy limits. */
function daysArg(value: string): number | null {
  if (value === "none" || value === "off") return null;
  try {
    const s = parseDuration(/^\d+$/.test(value) ? `${value}d` : value);
    if (s % 86_400 !== 0) throw new InvalidArgumentError(`"${value}" is not a whole number of days (e.g. 7d, 90d, or none)`);
    return s / 86_400;
  } catch (e) {
    if (e instanceof DurationError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

function onOff(value: string): boolean {
  if (value === "on" || value === "true") return true;
  if (value === "off" || value === "false") return false;
  throw new InvalidArgumentError(`use on or off (got "${value}")`);
}

/** The invitation code, from a code or from the link the inviter sent. */
export function inviteCode(text: string): string {
  const m = /[#?&]code=([^&\s]+)/.exec(text);
  const code = m ? decodeURIComponent(m[1]) : text.trim();
  if (!code.startsWith("khi_")) throw new UsageError("give the invitation link or its code (it starts with khi_)");
  return code;
}

function scopesText(t: OrgToken): string {
  return t.fullRole ? "* (full role)" : formatScopes(t.scopes).join(" ");
}

export function registerOrgCommands(program: Command, globals: () => GlobalOptions): void {
  const org = program.command("org").description("organization governance: tokens reaching an org, invitations, token policy");

  org
    .command("tokens")
    .description("every token and agent session that can reach the org (owners and admins)")
    .requiredOption("--org <org>", "the organization's slug")
    .option("--all", "include expired and revoked tokens")
    .option("--json", 'print {"tokens": [...]}')
    .addHelpText("after", "\nTab-separated columns (when stdout is not a terminal):\n  owner  name  tokenId  kind  type  status  scopes  expiresAt  lastUsedAt  policy")
    .action(async (opts: { org: string; all?: boolean; json?: boolean }) => {
      const { client } = await loginClient(globals());
      const tokens: OrgToken[] = [];
      let cursor: string | null = null;
      for (;;) {
        const page: OrgTokenPage = await client.query(api.orgs.listOrgTokens, {
          org: opts.org,
          status: opts.all ? "all" : "active",
          paginationOpts: { numItems: 20, cursor },
        });
        tokens.push(...page.page);
        if (page.isDone) break;
        cursor = page.continueCursor;
      }
      if (opts.json) return printJson({ tokens });
      const now = Date.now();
      if (isTTY()) {
        if (tokens.length === 0) return out(`No tokens reach ${opts.org}.`);
        return out(
          table(
            ["OWNER", "NAME", "TYPE", "STATUS", "SCOPES", "EXPIRES", "LAST USED", "POLICY"],
            tokens.map((t) => [
              t.owner.email ?? t.owner.userId, t.name, t.type, t.status, scopesText(t),
              relative(t.expiresAt, now), relative(t.lastUsedAt, now), t.policyViolations.length ? "refused" : "ok",
            ]),
          ),
        );
      }
      if (tokens.length > 0) {
        out(
          tsv(
            tokens.map((t) => [
              t.owner.email ?? t.owner.userId, t.name, t.tokenId, t.kind, t.type, t.status, scopesText(t),
              iso(t.expiresAt) ?? "-", iso(t.lastUsedAt) ?? "-", t.policyViolations.join("; ") || "ok",
            ]),
          ),
        );
      }
    });

  org
    .command("revoke-token")
    .description("revoke a member's token or agent session that reaches the org (owners and admins)")
    .requiredOption("--org <org>", "the organization's slug")
    .requiredOption("--id <tokenId>", "the token's or session's id (see keyhole org tokens)")
    .option("--reason <text>", "why; the token's owner sees it")
    .option("--json", "print {tokenId, changed, sessionsEnded}")
    .action(async (opts: { org: string; id: string; reason?: string; json?: boolean }) => {
      const { client } = await loginClient(globals());
      const r = await client.mutation(api.orgs.revokeOrgToken, { org: opts.org, tokenId: opts.id, reason: opts.reason });
      if (opts.json) return printJson(r);
      note(r.changed ? `Revoked ${r.tokenId} in ${opts.org}${r.sessionsEnded ? `; ended ${r.sessionsEnded} agent session(s)` : ""}.` : `${r.tokenId} was already revoked.`);
    });

  registerMembershipCommands(org, globals);
}

/** invite, accept, policy. */
function registerMembershipCommands(org: Command, globals: () => GlobalOptions): void {
  org
    .command("invite")
    .description("invite someone to the org; prints the link to send them (shown once)")
    .requiredOption("--org <org>", "the organization's slug")
    .addOption(new Option("--role <role>", "their role").choices(ROLES).default("member"))
    .option("--email <email>", "only the account with this e-mail may accept")
    .option("--expires <duration>", "how long the link works: 1h to 7d (default 7d)", durationArg)
    .option("--json", "print {inviteId, code, url, expiresAt}")
    .action(async (opts: { org: string; role: (typeof ROLES)[number]; email?: string; expires?: number; json?: boolean }) => {
      const { client } = await loginClient(globals());
      const r = await client.mutation(api.orgs.invite, {
        org: opts.org,
        role: opts.role,
        ...(opts.email ? { email: opts.email } : {}),
        ...(opts.expires !== undefined ? { expiresIn: opts.expires } : {}),
      });
      if (opts.json) return printJson(r);
      note(`Invitation to ${opts.org} as ${opts.role}${opts.email ? ` for ${opts.email}` : ""}, single-use, until ${iso(r.expiresAt)}.`);
      out(r.url);
      note(`They open the link signed in, or run: keyhole org accept '${r.url}'`);
    });

  org
    .command("accept")
    .description("join an org with an invitation link or code")
    .argument("<link-or-code>", "the invitation link, or just its code (khi_…)")
    .option("--json", "print {org, orgName, role}")
    .action(async (text: string, opts: { json?: boolean }) => {
      const code = inviteCode(text);
      const { client } = await loginClient(globals());
      const r = await client.mutation(api.orgs.acceptInvite, { code });
      if (opts.json) return printJson(r);
      note(`Joined ${r.orgName} (${r.org}) as ${r.role}.`);
    });

  org
    .command("policy")
    .description("show the org's token policy, or change it with the flags (owners and admins)")
    .requiredOption("--org <org>", "the organization's slug")
    .option("--max-lifetime <days>", "refuse tokens living longer: 7d, 90d, or none", daysArg)
    .option("--require-explicit-scopes <on|off>", "refuse tokens with no scopes (full role)", onOff)
    .option("--revoke-unused-after <days>", "revoke tokens unused this long: 30d, or none", daysArg)
    .option("--allow-mcp <on|off>", "allow MCP tokens in the org", onOff)
    .option("--json", "print the policy as JSON")
    .action(async (opts: {
      org: string; maxLifetime?: number | null; requireExplicitScopes?: boolean; revokeUnusedAfter?: number | null; allowMcp?: boolean; json?: boolean;
    }) => {
      const { client } = await loginClient(globals());
      const change = {
        ...(opts.maxLifetime !== undefined ? { maxLifetimeDays: opts.maxLifetime } : {}),
        ...(opts.requireExplicitScopes !== undefined ? { requireExplicitScopes: opts.requireExplicitScopes } : {}),
        ...(opts.revokeUnusedAfter !== undefined ? { revokeUnusedAfterDays: opts.revokeUnusedAfter } : {}),
        ...(opts.allowMcp !== undefined ? { allowMcpClients: opts.allowMcp } : {}),
      };
      const p =
        Object.keys(change).length > 0
          ? await client.mutation(api.orgs.setTokenPolicy, { org: opts.org, policy: change })
          : await client.query(api.orgs.getTokenPolicy, { org: opts.org });
      if (opts.json) return printJson(p);
      out(
        [
          `maxLifetimeDays        ${p.maxLifetimeDays ?? "none"}`,
          `requireExplicitScopes  ${p.requireExplicitScopes ? "on" : "off"}`,
          `revokeUnusedAfterDays  ${p.revokeUnusedAfterDays ?? "none"}`,
          `allowMcpClients        ${p.allowMcpClients ? "on" : "off"}`,
        ].join("\n"),
      );
    });
}
