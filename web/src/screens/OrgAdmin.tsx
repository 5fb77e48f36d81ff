/**
 * The org admin screen (owners and admins): invitations, every token that
 * reaches the org with revoke, the token policy, and the org's webhooks.
 * Everything is a live query: a token created or revoked elsewhere shows up
 * here without a reload.
 */
import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useEffect, useId, useState } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { api } from "../api";
import { ScopeChips } from "../components/scopes";
import { Badge, ConfirmDialog, CopyButton, Empty, FormError, LiveView } from "../components/ui";
import { errorMessage } from "../lib/errors";
import { useFormSubmit } from "../lib/form";
import { useLive } from "../lib/live";
import type { Role } from "../lib/permissions";
import { absoluteTime, ago, relativeTime, useNow } from "../lib/time";
import { WebhookEndpoints } from "./WebhooksPanel";

type OrgToken = FunctionReturnType<typeof api.orgs.listOrgTokens>["page"][number];

const ROLES: Role[] = ["owner", "admin", "member", "viewer"];
const PAGE = 20;

export function OrgAdmin({ org, myRole }: { org: string; myRole: Role }) {
  return (
    <section className="stack" aria-label={`Administration of ${org}`}>
      <Invitations org={org} myRole={myRole} />
      <OrgTokens org={org} />
      <TokenPolicy org={org} />
      <article className="card" aria-labelledby={`hooks-${org}`}>
        <h3 id={`hooks-${org}`} className="section-h">
          Webhooks for {org}
        </h3>
        <p className="muted small">Events about every token that reaches {org}, signed per Standard Webhooks.</p>
        <WebhookEndpoints org={org} />
      </article>
    </section>
  );
}

// --- invitations ---------------------------------------------------------------

function Invitations({ org, myRole }: { org: string; myRole: Role }) {
  const invite = useMutation(api.orgs.invite);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [link, setLink] = useState<string | null>(null);
  const ids = { h: useId(), email: useId(), role: useId() };
  const emailInvalid = email.trim() !== "" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim());
  const { submitted, pending, error, setError, onSubmit } = useFormSubmit(emailInvalid, async () => {
    const created = await invite({ org, role, ...(email.trim() ? { email: email.trim() } : {}) });
    setLink(created.url);
    setEmail("");
  });
  const roles = myRole === "owner" ? ROLES : ROLES.filter((r) => r !== "owner");

  return (
    <article className="card" aria-labelledby={ids.h}>
      <h3 id={ids.h} className="section-h">
        Invitations
      </h3>
      <p className="muted small">
        People join only through an invitation link: single-use, valid 7 days. With an e-mail, only that account can accept it.
      </p>
      <form className="inline-form" onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor={ids.email}>E-mail (optional)</label>
          <input
            id={ids.email}
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={submitted && emailInvalid}
            placeholder="teammate@example.com"
          />
          {submitted && emailInvalid ? <p className="field-error">Enter an e-mail address, or leave it empty.</p> : null}
        </div>
        <div className="field">
          <label htmlFor={ids.role}>Role</label>
          <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn" disabled={pending}>
          {pending ? "Creating…" : "Create invitation"}
        </button>
      </form>
      <FormError>{error}</FormError>
      {link ? (
        <div className="notice notice-info" role="status" data-invite-link>
          <p>Send this link to the person. It is shown only now.</p>
          <p>
            <code className="wrap">{link}</code>
          </p>
          <CopyButton text={link} label="Copy link" />{" "}
          <button type="button" className="btn btn-small btn-ghost" onClick={() => setLink(null)}>
            Done
          </button>
        </div>
      ) : null}
      <InvitationList org={org} onError={setError} />
    </article>
  );
}

/** The org's invitations, live, with Revoke on the pending ones. */
function InvitationList({ org, onError }: { org: string; onError: (message: string) => void }) {
  const invites = useLive(api.orgs.listInvites, { org });
  const revoke = useMutation(api.orgs.revokeInvite);
  const now = useNow();
  return (
    <LiveView live={invites} loadingLabel="Loading invitations…" errorTitle="Couldn't load invitations">
      {(list) =>
        list.length === 0 ? null : (
          <ul className="rows" aria-label="Invitations">
            {list.map((i) => (
              <li key={i.inviteId} className="row" data-invite-status={i.status}>
                <div className="row-main">
                  <div>
                    <strong>{i.email ?? "anyone with the link"}</strong> <Badge tone="neutral">{i.role}</Badge>{" "}
                    <Badge tone={i.status === "pending" ? "info" : i.status === "accepted" ? "ok" : "neutral"}>{i.status}</Badge>
                  </div>
                  <div className="muted small">
                    by {i.invitedBy ?? "?"} · {ago(i.createdAt, now)}
                    {i.status === "pending" ? ` · expires ${relativeTime(i.expiresAt, now)}` : ""}
                    {i.acceptedBy ? ` · accepted by ${i.acceptedBy}` : ""}
                  </div>
                </div>
                {i.status === "pending" ? (
                  <button
                    type="button"
                    className="btn btn-small btn-ghost"
                    onClick={() => revoke({ org, inviteId: i.inviteId }).catch((e: unknown) => onError(errorMessage(e)))}
                  >
                    Revoke
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )
      }
    </LiveView>
  );
}

// --- tokens reaching the org -----------------------------------------------------

function OrgTokens({ org }: { org: string }) {
  const [status, setStatus] = useState<"active" | "all">("active");
  const [revoking, setRevoking] = useState<OrgToken | null>(null);
  const [reason, setReason] = useState("");
  const revoke = useMutation(api.orgs.revokeOrgToken);
  const ids = { h: useId(), reason: useId() };
  return (
    <article className="card" aria-labelledby={ids.h}>
      <div className="card-head">
        <h3 id={ids.h} className="section-h">
          Tokens reaching {org}
        </h3>
        <label className="field-inline small">
          <input type="checkbox" checked={status === "all"} onChange={(e) => setStatus(e.target.checked ? "all" : "active")} /> show
          expired and revoked
        </label>
      </div>
      <p className="muted small">Every personal access token and agent session of a member that can act in {org}. Never a secret.</p>
      <div className="table-wrap">
        <table className="table org-tokens">
          <caption className="sr-only">Tokens reaching {org}</caption>
          <thead>
            <tr>
              <th scope="col">Owner</th>
              <th scope="col">Token</th>
              <th scope="col">Scopes here</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <TokensPage org={org} status={status} cursor={null} onRevoke={setRevoking} />
        </table>
      </div>
      {revoking ? (
        <ConfirmDialog
          title={`Revoke “${revoking.name}” of ${revoking.owner.email ?? "this member"}?`}
          confirmLabel="Revoke token"
          onConfirm={() => revoke({ org, tokenId: revoking.tokenId, ...(reason.trim() ? { reason: reason.trim() } : {}) })}
          onClose={() => {
            setRevoking(null);
            setReason("");
          }}
        >
          <p>It stops working everywhere on its next request. Its owner sees that you revoked it, and why.</p>
          <div className="field">
            <label htmlFor={ids.reason}>Reason (shown to the owner)</label>
            <input id={ids.reason} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={200} />
          </div>
        </ConfirmDialog>
      ) : null}
    </article>
  );
}

/** One page of members' tokens (live); "Show more" renders the next page below it. */
function TokensPage({
  org,
  status,
  cursor,
  onRevoke,
}: {
  org: string;
  status: "active" | "all";
  cursor: string | null;
  onRevoke: (t: OrgToken) => void;
}) {
  const page = useLive(api.orgs.listOrgTokens, { org, status, paginationOpts: { numItems: PAGE, cursor } });
  const [more, setMore] = useState(false);
  const now = useNow();
  if (page.status !== "ready") {
    return (
      <tbody>
        <tr>
          <td colSpan={7} className="muted">
            {page.status === "loading" ? "Loading tokens…" : `Couldn't load tokens: ${page.error.message}`}
          </td>
        </tr>
      </tbody>
    );
  }
  const { page: rows, isDone, continueCursor } = page.data;
  return (
    <>
      <tbody>
        {rows.length === 0 && cursor === null && isDone ? (
          <tr>
            <td colSpan={7}>
              <Empty title={`No tokens reach ${org}`} />
            </td>
          </tr>
        ) : null}
        {rows.map((t) => (
          <OrgTokenRow key={t.tokenId} t={t} now={now} onRevoke={() => onRevoke(t)} />
        ))}
        {!isDone && !more ? (
          <tr>
            <td colSpan={7}>
              <button type="button" className="btn btn-small" onClick={() => setMore(true)}>
                Show more members' tokens
              </button>
            </td>
          </tr>
        ) : null}
      </tbody>
      {more ? <TokensPage org={org} status={status} cursor={continueCursor} onRevoke={onRevoke} /> : null}
    </>
  );
}

function OrgTokenRow({ t, now, onRevoke }: { t: OrgToken; now: number; onRevoke: () => void }) {
  const live = t.status === "active" && t.expiresAt > now;
  return (
    <tr data-org-token={t.name} data-owner={t.owner.email ?? ""} data-status={t.status}>
      <td data-label="Owner">
        {t.owner.email ?? t.owner.userId} <Badge tone="neutral">{t.owner.role}</Badge>
      </td>
      <td data-label="Token">
        <strong>{t.name}</strong> <Badge tone="neutral">{t.type}</Badge>
        {t.policyViolations.length > 0 ? (
          <div className="small cell-warn" title={t.policyViolations.join("; ")}>
            <Badge tone="warn">refused by policy</Badge>
          </div>
        ) : null}
      </td>
      <td data-label="Scopes here">
        <ScopeChips scopes={t.fullRole ? [] : (t.scopes as ScopeEntry[])} />
      </td>
      <td data-label="Status">
        <Badge tone={t.status === "active" ? "ok" : t.status === "revoked" ? "bad" : "neutral"}>{t.status}</Badge>
      </td>
      <td data-label="Expires">
        <time dateTime={new Date(t.expiresAt).toISOString()} title={absoluteTime(t.expiresAt)}>
          {relativeTime(t.expiresAt, now)}
        </time>
      </td>
      <td data-label="Last used">{t.lastUsedAt ? ago(t.lastUsedAt, now) : <span className="muted">never</span>}</td>
      <td className="cell-actions">
        {live ? (
          <button type="button" className="btn btn-small btn-danger-outline" onClick={onRevoke} aria-label={`Revoke ${t.name} of ${t.owner.email ?? "member"}`}>
            Revoke
          </button>
        ) : null}
      </td>
    </tr>
  );
}

// --- token policy ----------------------------------------------------------------

function daysField(text: string): number | null | "bad" {
  if (text.trim() === "") return null;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 365 ? n : "bad";
}

function TokenPolicy({ org }: { org: string }) {
  const policy = useLive(api.orgs.getTokenPolicy, { org });
  const save = useMutation(api.orgs.setTokenPolicy);
  const [maxLifetime, setMaxLifetime] = useState("");
  const [unused, setUnused] = useState("");
  const [explicit, setExplicit] = useState(false);
  const [mcp, setMcp] = useState(true);
  const [saved, setSaved] = useState(false);
  const ids = { h: useId(), max: useId(), unused: useId() };
  const loaded = policy.status === "ready" ? policy.data : null;
  const updatedAt = loaded?.updatedAt ?? null;
  useEffect(() => {
    if (!loaded) return;
    setMaxLifetime(loaded.maxLifetimeDays?.toString() ?? "");
    setUnused(loaded.revokeUnusedAfterDays?.toString() ?? "");
    setExplicit(loaded.requireExplicitScopes);
    setMcp(loaded.allowMcpClients);
    // Re-sync when the stored policy changes (here or elsewhere).
  }, [updatedAt, loaded !== null]);
  const max = daysField(maxLifetime);
  const unusedDays = daysField(unused);
  const invalid = max === "bad" || unusedDays === "bad";
  const { submitted, pending, error, onSubmit } = useFormSubmit(invalid, async () => {
    setSaved(false);
    await save({
      org,
      policy: {
        maxLifetimeDays: max === "bad" ? null : max,
        revokeUnusedAfterDays: unusedDays === "bad" ? null : unusedDays,
        requireExplicitScopes: explicit,
        allowMcpClients: mcp,
      },
    });
    setSaved(true);
  });
  return (
    <form className="card" onSubmit={onSubmit} noValidate aria-labelledby={ids.h}>
      <h3 id={ids.h} className="section-h">
        Token policy
      </h3>
      <p className="muted small">Checked on every request by every token in {org}: a change applies to existing tokens at once.</p>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={ids.max}>Maximum token lifetime (days)</label>
          <input id={ids.max} inputMode="numeric" value={maxLifetime} onChange={(e) => setMaxLifetime(e.target.value)} placeholder="no limit" aria-invalid={submitted && max === "bad"} />
          {submitted && max === "bad" ? <p className="field-error">1 to 365, or empty for no limit.</p> : null}
        </div>
        <div className="field">
          <label htmlFor={ids.unused}>Revoke tokens unused for (days)</label>
          <input id={ids.unused} inputMode="numeric" value={unused} onChange={(e) => setUnused(e.target.value)} placeholder="never" aria-invalid={submitted && unusedDays === "bad"} />
          {submitted && unusedDays === "bad" ? <p className="field-error">1 to 365, or empty for never.</p> : null}
        </div>
      </div>
      <label className="field-inline">
        <input type="checkbox" checked={explicit} onChange={(e) => setExplicit(e.target.checked)} /> Require explicit scopes (refuse
        full-role tokens)
      </label>
      <label className="field-inline">
        <input type="checkbox" checked={mcp} onChange={(e) => setMcp(e.target.checked)} /> Allow MCP clients
      </label>
      <FormError>{error}</FormError>
      <p>
        <button type="submit" className="btn btn-primary" disabled={pending || !loaded}>
          {pending ? "Saving…" : "Save policy"}
        </button>{" "}
        {saved ? (
          <span role="status" className="muted">
            Saved.
          </span>
        ) : null}
      </p>
    </form>
  );
}
