/**
 * Audit events as sentences with names ("Token ci started agent session
 * bot-7 for 10 minutes"), and as JSON / CSV exports.
 */
import type { FunctionReturnType } from "convex/server";
import type { api } from "../api";
import { describeUserAgent } from "./ua";

export type AuditEvent = FunctionReturnType<typeof api.audit.list>["page"][number];

/** `key=value` pairs of an event's details (values have no spaces). */
export function detailsOf(details: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (details ?? "").matchAll(/(?:^|\s)([a-zA-Z]+)=(\S+)/g)) out[m[1]] = m[2];
  return out;
}

function actor(e: AuditEvent): string {
  switch (e.actorKind) {
    case "user":
      return e.actorName === "you" ? "You" : (e.actorName ?? "A member");
    case "pat":
      return e.actorName ? `Token ${e.actorName}` : "A token";
    case "agent":
      return e.actorName ? `Agent session ${e.actorName}` : "An agent session";
    case "anonymous":
      return "Someone";
    case "system":
      return "keyhole";
  }
}

function seconds(s: string | undefined): string {
  const n = Number(String(s ?? "").replace(/s$/, ""));
  if (!Number.isFinite(n) || n <= 0) return "";
  if (n % 3600 === 0) return ` for ${n / 3600} hour${n === 3600 ? "" : "s"}`;
  if (n % 60 === 0) return ` for ${n / 60} minute${n === 60 ? "" : "s"}`;
  return ` for ${n} seconds`;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** One sentence for an event, with names; falls back to "<actor>: <event>". */
export function describeEvent(e: AuditEvent): string {
  const a = actor(e);
  const d = detailsOf(e.details);
  const t = e.targetName ?? "";
  const provider = d.provider ?? t;
  const member = d.user === "you" ? "you" : (d.user ?? "a member");
  switch (e.action) {
    case "token.created":
      return `${a} created ${d.type === "MCP" ? "MCP token" : "token"} ${t}${d.expiresAt ? `, expiring ${d.expiresAt.slice(0, 10)}` : ""}`;
    case "token.revoked": {
      const n = Number.parseInt(d.sessionsEnded ?? "0", 10);
      return `${a} revoked token ${t}${n > 0 ? `, ending ${plural(n, "agent session")}` : ""}`;
    }
    case "token.leaked":
      return `Token ${t} was reported as leaked and revoked`;
    case "token.used_after_revoke":
      return `A request with revoked token ${t} was refused`;
    case "auth.failed":
      return `A request with ${e.targetType === "agentSession" ? "agent session" : "token"} ${t} was refused (${d.reason ?? "invalid"})`;
    case "session.created":
      return `${a} started agent session ${t}${seconds(d.ttl)}`;
    case "session.refreshed":
      return `Agent session ${t} was refreshed`;
    case "session.ended":
      return `${a} ended ${d.count ? plural(Number(d.count), "agent session") + " of " + t : `agent session ${t}`}`;
    case "session.reuse_detected":
      return `A refresh credential of agent session ${t} was used twice: the whole session family was ended`;
    case "session.leaked":
      return `Agent session ${t} was reported as leaked and ended`;
    case "web_session.created":
      return `${a} signed in on ${describeUserAgent(e.userAgent)}`;
    case "web_session.signed_out":
      return `${a} ${e.details ?? "signed out a device"}`;
    case "connection.connected":
      return `${a} connected ${provider}${d.account ? ` (${d.account})` : ""}`;
    case "connection.token_vended":
      return `${a} got an access token from the ${provider} connection`;
    case "connection.token_refreshed":
      return `The ${provider} connection's access token was refreshed`;
    case "connection.refresh_failed":
      return `Refreshing the ${provider} connection failed (${d.reason ?? "error"})`;
    case "connection.revoked":
      return `${a} disconnected ${provider}`;
    case "connection.state_rejected":
      return `A ${provider} connection attempt was refused (${d.reason ?? "invalid state"})`;
    case "org.created":
      return `${a} created organization ${t}`;
    case "workspace.created":
      return `${a} created workspace ${t}`;
    case "member.added":
      return `${a} added ${member} to ${d.org ?? t} as ${d.role ?? "a member"}`;
    case "member.role_changed":
      return `${a} changed ${member === "you" ? "your" : `${member}'s`} role in ${d.org ?? t} from ${d.from ?? "?"} to ${d.to ?? "?"}`;
    case "member.removed":
      return `${a} removed ${member} from ${d.org ?? t}`;
    case "member.left":
      return `${a} left ${d.org ?? t}`;
    case "token.updated":
      return `${a} edited token ${t}${d.name ? ` (renamed ${d.name.replace("->", " → ")})` : ""}`;
    case "token.regenerated":
      return `${a} regenerated token ${t}${d.previousStopsAt ? `; the old secret works until ${d.previousStopsAt.slice(0, 16).replace("T", " ")} UTC` : ""}`;
    case "org.token_revoked":
      return `${a} revoked ${e.targetType === "agentSession" ? "agent session" : "token"} ${t} in ${d.org ?? "an organization"}`;
    case "org.policy_changed":
      return `${a} changed the token policy of ${d.org ?? t}`;
    case "invite.created":
      return `${a} invited ${d.email ?? "someone"} to ${d.org ?? t} as ${d.role ?? "a member"}`;
    case "invite.revoked":
      return `${a} revoked an invitation to ${d.org ?? t}`;
    case "webhook.created":
      return `${a} added a webhook${d.url ? ` to ${d.url}` : ""}`;
    case "webhook.removed":
      return `${a} removed a webhook${d.url ? ` to ${d.url}` : ""}`;
    case "oauth.consent_approved":
      return `${a} let an app connect${d.resource ? ` to ${d.resource}` : ""}`;
    case "oauth.consent_denied":
      return `${a} refused an app's request to connect`;
    case "oauth.grant_created":
      return `${d.client ?? "An app"} connected${d.agent ? ` as agent session ${d.agent}` : ""}`;
    case "oauth.grant_revoked":
      return `${a} disconnected ${d.client ?? "an app"}`;
    case "connection.failed":
      return `Connecting ${provider} failed${d.reason ? ` (${d.reason})` : ""}`;
    default:
      return `${a}: ${e.action}${t ? ` (${t})` : ""}`;
  }
}

export const EXPORT_COLUMNS = ["at", "event", "summary", "actorKind", "actor", "targetType", "target", "ip", "userAgent", "details"] as const;

export function exportRow(e: AuditEvent): Record<(typeof EXPORT_COLUMNS)[number], string> {
  return {
    at: new Date(e.at).toISOString(),
    event: e.action,
    summary: describeEvent(e),
    actorKind: e.actorKind,
    actor: e.actorName ?? "",
    targetType: e.targetType ?? "",
    target: e.targetName ?? "",
    ip: e.ip ?? "",
    userAgent: e.userAgent ?? "",
    details: e.details ?? "",
  };
}

/**
 * One CSV cell (RFC 4180 quoting). A cell that a spreadsheet would run as a
 * formula (=, +, -, @, tab, CR first — e.g. a user agent an attacker chose)
 * gets a leading apostrophe, as OWASP recommends against CSV injection.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(events: AuditEvent[]): string {
  const lines = [EXPORT_COLUMNS.join(",")];
  for (const e of events) {
    const row = exportRow(e);
    lines.push(EXPORT_COLUMNS.map((c) => csvCell(row[c])).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

export function toJson(events: AuditEvent[]): string {
  return JSON.stringify({ events: events.map(exportRow) }, null, 2) + "\n";
}
