import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useMemo, useState } from "react";
import type { ScopeEntry } from "../../../convex/model/scopes";
import { api } from "../api";
import { ScopeChips } from "../components/scopes";
import { Badge, ConfirmDialog, Empty, LiveView } from "../components/ui";
import { useLive } from "../lib/live";
import { ago, absoluteTime, DAY_MS, relativeTime, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";
import { CreateTokenDialog } from "./CreateTokenDialog";

type Token = FunctionReturnType<typeof api.auth.listApiTokens>["tokens"][number];
type Filter = "all" | "active" | "expired" | "revoked";
const FILTERS: { id: Filter; label: string }[] = [
  { id: "all", label: "All" },
  { id: "active", label: "Active" },
  { id: "expired", label: "Expired" },
  { id: "revoked", label: "Revoked" },
];

/** The server computes status at read time; between reads, time passes. */
function statusNow(t: Token, now: number): "active" | "expired" | "revoked" {
  if (t.status === "active" && t.expiresAt <= now) return "expired";
  return t.status;
}

export function TokensPanel() {
  const [filter, setFilter] = useState<Filter>("all");
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const tokens = useLive(api.auth.listApiTokens, { status: filter });
  // Names must be unique among active tokens: the create dialog checks it inline.
  const active = useLive(api.auth.listApiTokens, { status: "active" });
  const activeNames = useMemo(
    () => new Set(active.status === "ready" ? active.data.tokens.map((t) => t.name) : []),
    [active],
  );
  const revoke = useMutation(api.auth.revokeApiToken);
  const now = useNow();

  return (
    <section aria-labelledby="tokens-h">
      <div className="panel-head">
        <div>
          <h1 id="tokens-h">API tokens</h1>
          <p className="muted">Personal access tokens for servers, scripts and MCP clients. Updates live.</p>
        </div>
        <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
          New token
        </button>
      </div>
      <fieldset className="filter">
        <legend className="sr-only">Show tokens</legend>
        <div className="segmented">
          {FILTERS.map((f) => (
            <label key={f.id} className="seg">
              <input type="radio" name="token-filter" value={f.id} checked={filter === f.id} onChange={() => setFilter(f.id)} />
              <span>{f.label}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <LiveView live={tokens} loadingLabel="Loading tokens…" errorTitle="Couldn't load your tokens">
        {({ tokens }) =>
          tokens.length === 0 ? (
            <Empty title={filter === "all" ? "No tokens yet" : `No ${filter} tokens`}>
              {filter === "all" ? "Create one to let a server, script or agent act for you." : null}
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="table tokens">
                <caption className="sr-only">Your tokens</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Last used</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {tokens.map((t) => (
                    <TokenRow key={t._id} t={t} now={now} onRevoke={() => setRevoking(t)} />
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </LiveView>
      {creating ? <CreateTokenDialog activeNames={activeNames} onClose={() => setCreating(false)} /> : null}
      {revoking ? (
        <ConfirmDialog
          title={`Revoke “${revoking.name}”?`}
          confirmLabel="Revoke token"
          onConfirm={() => revoke({ tokenId: revoking._id })}
          onClose={() => setRevoking(null)}
        >
          <p>
            Anything using this token — and every agent session started from it — stops working on its next request. This can't be
            undone.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function TokenRow({ t, now, onRevoke }: { t: Token; now: number; onRevoke: () => void }) {
  const status = statusNow(t, now);
  const soon = status === "active" && t.expiresAt - now < 7 * DAY_MS;
  return (
    <tr data-token-name={t.name} data-status={status}>
      <td data-label="Name">
        <div className="token-name">
          <strong>{t.name}</strong> <Badge tone="neutral">{t.type}</Badge>
        </div>
        {t.description ? <div className="muted small">{t.description}</div> : null}
      </td>
      <td data-label="Scopes">
        <ScopeChips scopes={t.scopes as ScopeEntry[]} />
      </td>
      <td data-label="Status" className="cell-status">
        {status === "active" ? (
          <Badge tone="ok">active</Badge>
        ) : status === "revoked" ? (
          <Badge tone="bad" title={t.revokedAt ? `Revoked ${absoluteTime(t.revokedAt)}` : undefined}>
            revoked
          </Badge>
        ) : (
          <Badge tone="neutral">expired</Badge>
        )}
      </td>
      <td data-label="Created">
        <time dateTime={new Date(t.createdAt).toISOString()} title={absoluteTime(t.createdAt)}>
          {ago(t.createdAt, now)}
        </time>
      </td>
      <td data-label="Expires" className={soon ? "cell-warn" : undefined}>
        <time dateTime={new Date(t.expiresAt).toISOString()} title={absoluteTime(t.expiresAt)}>
          {relativeTime(t.expiresAt, now)}
        </time>
        {soon ? (
          <>
            {" "}
            <Badge tone="warn">expires soon</Badge>
          </>
        ) : null}
      </td>
      <td data-label="Last used" className="cell-lastused">
        {t.lastUsedAt ? (
          <>
            <time dateTime={new Date(t.lastUsedAt).toISOString()} title={absoluteTime(t.lastUsedAt)}>
              {ago(t.lastUsedAt, now)}
            </time>
            <LastUseDetails tokenId={t._id} />
          </>
        ) : (
          <span className="muted">never</span>
        )}
      </td>
      <td className="cell-actions">
        {status === "active" ? (
          <button type="button" className="btn btn-small btn-danger-outline" onClick={onRevoke} aria-label={`Revoke ${t.name}`}>
            Revoke
          </button>
        ) : null}
      </td>
    </tr>
  );
}

/** IP and user agent of the last use: the token's detail record, also live. */
function LastUseDetails({ tokenId }: { tokenId: Token["_id"] }) {
  const details = useLive(api.auth.getApiToken, { tokenId });
  if (details.status !== "ready") return null;
  const { lastUsedIp, lastUsedUserAgent } = details.data;
  if (!lastUsedIp && !lastUsedUserAgent) return null;
  return (
    <div className="muted small" title={lastUsedUserAgent ?? undefined}>
      {[lastUsedIp, lastUsedUserAgent ? describeUserAgent(lastUsedUserAgent) : null].filter(Boolean).join(" · ")}
    </div>
  );
}
