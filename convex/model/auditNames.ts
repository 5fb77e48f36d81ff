/**
 * The names of audit events: one style, `<thing>.<past participle>`. Pure
 * (no Convex imports): the dashboard's event filter uses the list too.
 */
/** Event names written before the naming was made uniform → their current name. */
const RENAMED: Record<string, string> = {
  "session.create": "session.created",
  "session.refresh": "session.refreshed",
  "session.end": "session.ended",
  "web_session.create": "web_session.created",
  "web_session.sign_out": "web_session.signed_out",
};

/** The one name of an event (applied when it is written and when old rows are read). */
export function canonicalAction(action: string): string {
  return RENAMED[action] ?? action;
}

/** Every event keyhole writes, by area (the dashboard's event-type filter lists these). */
export const AUDIT_ACTIONS = [
  "token.created",
  "token.revoked",
  "token.leaked",
  "token.used_after_revoke",
  "token.updated",
  "token.regenerated",
  "auth.failed",
  "session.created",
  "session.refreshed",
  "session.ended",
  "session.reuse_detected",
  "session.leaked",
  "web_session.created",
  "web_session.signed_out",
  "connection.connected",
  "connection.token_vended",
  "connection.token_refreshed",
  "connection.refresh_failed",
  "connection.revoked",
  "connection.state_rejected",
  "connection.failed",
  "org.created",
  "workspace.created",
  "member.added",
  "member.role_changed",
  "member.removed",
  "member.left",
  "invite.created",
  "invite.revoked",
  "org.policy_changed",
  "org.token_revoked",
  "webhook.created",
  "webhook.removed",
  "oauth.consent_approved",
  "oauth.consent_denied",
  "oauth.grant_created",
  "oauth.grant_revoked",
  "oauth.refresh_concurrent",
] as const;
