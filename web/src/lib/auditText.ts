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

/** What a sentence is made of: the event, its actor as a phrase, its `key=value` details, and the names it mentions. */
type Parts = { e: AuditEvent; a: string; d: Record<string, string>; t: string; provider: string; member: string };
type Sentence = (p: Parts) => string;

const kindOfTarget = (e: AuditEvent) => (e.targetType === "agentSession" ? "agent session" : "token");

const TOKEN_SENTENCES: Record<string, Sentence> = {
  "token.created": ({ a, d, t }) => `${a} created ${d.type === "MCP" ? "MCP token" : "token"} ${t}${d.expiresAt ? `, expiring ${d.expiresAt.slice(0, 10)}` : ""}`,
  "token.revoked": ({ a, d, t }) => {
    const n = Number.parseInt(d.sessionsEnded ?? "0", 10);
    return `${a} revoked token ${t}${n > 0 ? `, ending ${plural(n, "agent session")}` : ""}`;
  },
  "token.leaked": ({ t }) => `Token ${t} was reported as leaked and revoked`,
  "token.used_after_revoke": ({ t }) => `A request with revoked token ${t} was refused`,
  "token.updated": ({ a, d, t }) => `${a} edited token ${t}${d.name ? ` (renamed ${d.name.replace("->", " → ")})` : ""}`,
  "token.regenerated": ({ a, d, t }) =>
    `${a} regenerated token ${t}${d.previousStopsAt ? `; the old secret works until ${d.previousStopsAt.slice(0, 16).replace("T", " ")} UTC` : ""}`,
  "auth.failed": ({ e, d, t }) => `A request with ${kindOfTarget(e)} ${t} was refused (${d.reason ?? "invalid"})`,
};

const SESSION_SENTENCES: Record<string, Sentence> = {
  "session.created": ({ a, d, t }) => `${a} started agent session ${t}${seconds(d.ttl)}`,
  "session.refreshed": ({ t }) => `Agent session ${t} was refreshed`,
  "session.ended": ({ a, d, t }) => `${a} ended ${d.count ? plural(Number(d.count), "agent session") + " of " + t : `agent session ${t}`}`,
  "session.reuse_detected": ({ t }) => `A refresh credential of agent session ${t} was used twice: the whole session family was ended`,
  "session.leaked": ({ t }) => `Agent session ${t} was reported as leaked and ended`,
  "web_session.created": ({ e, a }) => `${a} signed in on ${describeUserAgent(e.userAgent)}`,
  "web_session.signed_out": ({ e, a }) => `${a} ${e.details ?? "signed out a device"}`,
};

const CONNECTION_SENTENCES: Record<string, Sentence> = {
  "connection.connected": ({ a, d, provider }) => `${a} connected ${provider}${d.account ? ` (${d.account})` : ""}`,
  "connection.token_vended": ({ a, provider }) => `${a} got an access token from the ${provider} connection`,
  "connection.token_refreshed": ({ provider }) => `The ${provider} connection's access token was refreshed`,
  "connection.refresh_failed": ({ d, provider }) => `Refreshing the ${provider} connection failed (${d.reason ?? "error"})`,
  "connection.revoked": ({ a, provider }) => `${a} disconnected ${provider}`,
  "connection.state_rejected": ({ d, provider }) => `A ${provider} connection attempt was refused (${d.reason ?? "invalid state"})`,
  "connection.failed": ({ d, provider }) => `Connecting ${provider} failed${d.reason ? ` (${d.reason})` : ""}`,
};

const ORG_SENTENCES: Record<string, Sentence> = {
  "org.created": ({ a, t }) => `${a} created organization ${t}`,
  "workspace.created": ({ a, t }) => `${a} created workspace ${t}`,
  "member.added": ({ a, d, t, member }) => `${a} added ${member} to ${d.org ?? t} as ${d.role ?? "a member"}`,
  "member.role_changed": ({ a, d, t, member }) =>
    `${a} changed ${member === "you" ? "your" : `${member}'s`} role in ${d.org ?? t} from ${d.from ?? "?"} to ${d.to ?? "?"}`,
  "member.removed": ({ a, d, t, member }) => `${a} removed ${member} from ${d.org ?? t}`,
  "member.left": ({ a, d, t }) => `${a} left ${d.org ?? t}`,
  "org.token_revoked": ({ e, a, d, t }) => `${a} revoked ${kindOfTarget(e)} ${t} in ${d.org ?? "an organization"}`,
  "org.policy_changed": ({ a, d, t }) => `${a} changed the token policy of ${d.org ?? t}`,
  "invite.created": ({ a, d, t }) => `${a} invited ${d.email ?? "someone"} to ${d.org ?? t} as ${d.role ?? "a member"}`,
  "invite.revoked": ({ a, d, t }) => `${a} revoked an invitation to ${d.org ?? t}`,
};

const APP_SENTENCES: Record<string, Sentence> = {
  "webhook.created": ({ a, d }) => `${a} added a webhook${d.url ? ` to ${d.url}` : ""}`,
  "webhook.removed": ({ a, d }) => `${a} removed a webhook${d.url ? ` to ${d.url}` : ""}`,
  "oauth.consent_approved": ({ a, d }) => `${a} let an app connect${d.resource ? ` to ${d.resource}` : ""}`,
  "oauth.consent_denied": ({ a }) => `${a} refused an app's request to connect`,
  "oauth.grant_created": ({ d }) => `${d.client ?? "An app"} connected${d.agent ? ` as agent session ${d.agent}` : ""}`,
  "oauth.grant_revoked": ({ a, d }) => `${a} disconnected ${d.client ?? "an app"}`,
};

/** Event name → its sentence (a Map: an event name like "constructor" must not find an Object method). */
const SENTENCES = new Map<string, Sentence>(
  Object.entries({ ...TOKEN_SENTENCES, ...SESSION_SENTENCES, ...CONNECTION_SENTENCES, ...ORG_SENTENCES, ...APP_SENTENCES }),
);

/** One sentence for an event, with names; falls back to "<actor>: <event>". */
export function describeEvent(e: AuditEvent): string {
  const d = detailsOf(e.details);
  const t = e.targetName ?? "";
  const parts: Parts = { e, a: actor(e), d, t, provider: d.provider ?? t, member: d.user === "you" ? "you" : (d.user ?? "a member") };
  const sentence = SENTENCES.get(e.action);
  return sentence ? sentence(parts) : `${parts.a}: ${e.action}${t ? ` (${t})` : ""}`;
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
