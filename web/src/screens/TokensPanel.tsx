import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useId, useMemo, useState } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { api } from "../api";
import { DataTable, Options, Segmented } from "../components/fields";
import { ScopeChips } from "../components/scopes";
import { Badge, ConfirmDialog, Empty, LiveView } from "../components/ui";
import { useLive } from "../lib/live";
import { absoluteTime, ago, expiresSoon, relativeTime, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";
import { CreateTokenDialog } from "./CreateTokenDialog";
import { Overview } from "./Overview";

export type Token = FunctionReturnType<typeof api.auth.listApiTokens>["tokens"][number];
type Status = "active" | "expired" | "revoked";
type Filter = Status | "all";
type Sort = "newest" | "name" | "expires" | "lastUsed";

const FILTERS: { id: Filter; label: string }[] = [
  { id: "active", label: "Active" },
  { id: "expired", label: "Expired" },
  { id: "revoked", label: "Revoked" },
  { id: "all", label: "All" },
];
const SORTS: { id: Sort; label: string }[] = [
  { id: "newest", label: "Newest first" },
  { id: "name", label: "Name" },
  { id: "expires", label: "Expires soonest" },
  { id: "lastUsed", label: "Recently used" },
];
const STATUS_ORDER: Record<Status, number> = { active: 0, expired: 1, revoked: 2 };

/** The server computes status at read time; between reads, time passes. */
export function statusNow(t: Pick<Token, "status" | "expiresAt">, now: number): Status {
  if (t.status === "active" && t.expiresAt <= now) return "expired";
  return t.status;
}

function compare(sort: Sort): (a: Token, b: Token) => number {
  switch (sort) {
    case "name":
      return (a, b) => a.name.localeCompare(b.name);
    case "expires":
      return (a, b) => a.expiresAt - b.expiresAt;
    case "lastUsed":
      return (a, b) => (b.lastUsedAt ?? 0) - (a.lastUsedAt ?? 0);
    case "newest":
      return (a, b) => b.createdAt - a.createdAt;
  }
}

/** Filter, search and sort; in "All", active tokens come first and revoked ones last. */
function visibleTokens(tokens: Token[], filter: Filter, query: string, sort: Sort, now: number): Token[] {
  const q = query.trim().toLowerCase();
  const rows = tokens.filter(
    (t) =>
      (filter === "all" || statusNow(t, now) === filter) &&
      (q === "" || [t.name, t.description ?? "", t.hint ?? "", t.type].some((s) => s.toLowerCase().includes(q))),
  );
  const by = compare(sort);
  return rows.sort((a, b) => STATUS_ORDER[statusNow(a, now)] - STATUS_ORDER[statusNow(b, now)] || by(a, b));
}

/**
 * My tokens as the server lists them for `filter`, and what the panel needs
 * beside them: whether I have any token at all, the names taken by active
 * tokens, and a clock that ticks when a listed token expires.
 */
function useTokens(filter: Filter) {
  // The server filters (every active token always fits in one list); the client re-checks expiry as time passes.
  const tokens = useLive(api.auth.listApiTokens, { status: filter });
  const all = useMemo(() => (tokens.status === "ready" ? tokens.data.tokens : []), [tokens]);
  const activeList = useLive(api.auth.listApiTokens, { status: "active" });
  const actives = useMemo(() => (activeList.status === "ready" ? activeList.data.tokens : []), [activeList]);
  // Only to tell "no tokens yet" from "none active": asked when the active list is empty.
  const none = activeList.status === "ready" && actives.length === 0;
  const any = useLive(api.auth.listApiTokens, none ? { status: "all" } : "skip");
  const hasAny = !none || (any.status === "ready" && any.data.tokens.length > 0);
  // Re-render exactly when a listed token expires: status flips on screen, not on the next query.
  const now = useNow(15_000, all.map((t) => t.expiresAt));
  // Names must be unique among active tokens: the create dialog checks it inline.
  const activeNames = useMemo(() => new Set(actives.filter((t) => statusNow(t, now) === "active").map((t) => t.name)), [actives, now]);
  return { tokens, all, hasAny, now, activeNames };
}

export function TokensPanel() {
  const [filter, setFilter] = useState<Filter>("active");
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<Sort>("newest");
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const { tokens, all, hasAny, now, activeNames } = useTokens(filter);
  const revoke = useMutation(api.auth.revokeApiToken);

  return (
    <section aria-labelledby="tokens-h">
      <div className="panel-head">
        <div>
          <h1 id="tokens-h" tabIndex={-1}>
            API tokens
          </h1>
          <p className="muted">Personal access tokens for servers, scripts and MCP clients. Updates live.</p>
        </div>
        <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
          New token
        </button>
      </div>
      <Overview />
      <TokenToolbar filter={filter} setFilter={setFilter} query={query} setQuery={setQuery} sort={sort} setSort={setSort} />
      <LiveView live={tokens} loadingLabel="Loading tokens…" errorTitle="Couldn't load your tokens">
        {() => {
          const rows = visibleTokens(all, filter, query, sort, now);
          if (rows.length === 0) {
            return (
              <Empty title={query ? "No tokens match your search" : !hasAny ? "No tokens yet" : `No ${filter === "all" ? "" : filter + " "}tokens`}>
                {!hasAny ? "Create one to let a server, script or agent act for you." : null}
              </Empty>
            );
          }
          return <TokenTable rows={rows} now={now} onRevoke={setRevoking} />;
        }}
      </LiveView>
      {creating ? <CreateTokenDialog activeNames={activeNames} onClose={() => setCreating(false)} /> : null}
      {revoking ? (
        <RevokeDialog token={revoking} onRevoke={() => revoke({ tokenId: revoking._id })} onClose={() => setRevoking(null)} />
      ) : null}
    </section>
  );
}

/** Which tokens to show (status filter and search) and in what order. */
function TokenToolbar(props: {
  filter: Filter;
  setFilter: (f: Filter) => void;
  query: string;
  setQuery: (q: string) => void;
  sort: Sort;
  setSort: (s: Sort) => void;
}) {
  const searchId = useId();
  const sortId = useId();
  return (
    <div className="toolbar">
      <fieldset className="filter">
        <legend className="sr-only">Show tokens</legend>
        <Segmented name="token-filter" options={FILTERS} value={props.filter} onChange={props.setFilter} />
      </fieldset>
      <div className="field field-inline">
        <label htmlFor={searchId} className="sr-only">
          Search tokens
        </label>
        <input id={searchId} type="search" placeholder="Search tokens" value={props.query} onChange={(e) => props.setQuery(e.target.value)} />
      </div>
      <div className="field field-inline">
        <label htmlFor={sortId}>Sort</label>
        <select id={sortId} value={props.sort} onChange={(e) => props.setSort(e.target.value as Sort)}>
          <Options options={SORTS} />
        </select>
      </div>
    </div>
  );
}

/** The token table and its footnote on what "last recorded use" counts. */
function TokenTable({ rows, now, onRevoke }: { rows: Token[]; now: number; onRevoke: (t: Token) => void }) {
  return (
    <>
      <DataTable className="table tokens" caption="Your tokens" columns={["Token", "Scopes", "Status", "Expires", "Last recorded use", null]}>
        {rows.map((t) => (
          <TokenRow key={t._id} t={t} now={now} onRevoke={() => onRevoke(t)} />
        ))}
      </DataTable>
      <p className="muted small footnote">
        Last recorded use counts mutations, actions, HTTP API and MCP calls (updated at most once a minute). Reads through Convex
        queries can't be recorded. ID is how the token text ends.
      </p>
    </>
  );
}

export function RevokeDialog({ token, onRevoke, onClose }: { token: Pick<Token, "name">; onRevoke: () => Promise<unknown>; onClose: () => void }) {
  return (
    <ConfirmDialog title={`Revoke “${token.name}”?`} confirmLabel="Revoke token" onConfirm={onRevoke} onClose={onClose}>
      <p>Anything using this token — and every agent session started from it — stops working on its next request. This can't be undone.</p>
    </ConfirmDialog>
  );
}

export function StatusBadge({ t, now }: { t: Pick<Token, "status" | "expiresAt" | "revokedAt">; now: number }) {
  const status = statusNow(t, now);
  if (status === "active") return <Badge tone="ok">active</Badge>;
  if (status === "revoked") return <Badge tone="bad">revoked</Badge>;
  return <Badge tone="neutral">expired</Badge>;
}

/** "in 30 days" (+ "expires soon"), "expired 2 days ago", or — for a revoked token — when it was revoked. */
export function ExpiryText({ t, now }: { t: Pick<Token, "status" | "expiresAt" | "revokedAt" | "createdAt">; now: number }) {
  const status = statusNow(t, now);
  if (status === "revoked") {
    return t.revokedAt ? (
      <span className="muted">
        revoked <time dateTime={new Date(t.revokedAt).toISOString()} title={absoluteTime(t.revokedAt)}>{ago(t.revokedAt, now)}</time>
      </span>
    ) : (
      <span className="muted">revoked</span>
    );
  }
  const time = (
    <time dateTime={new Date(t.expiresAt).toISOString()} title={absoluteTime(t.expiresAt)}>
      {status === "expired" ? `expired ${ago(t.expiresAt, now)}` : relativeTime(t.expiresAt, now)}
    </time>
  );
  if (status === "expired") return <span className="muted">{time}</span>;
  return expiresSoon(t, now) ? (
    <span className="cell-warn">
      {time} <Badge tone="warn">expires soon</Badge>
    </span>
  ) : (
    time
  );
}

function TokenRow({ t, now, onRevoke }: { t: Token; now: number; onRevoke: () => void }) {
  const status = statusNow(t, now);
  return (
    <tr data-token-name={t.name} data-status={status}>
      <td data-label="Token" className="cell-token">
        <div className="token-name">
          <a href={`#/tokens/${t._id}`} className="token-link">
            {t.name}
          </a>
          <Badge tone="neutral">{t.type}</Badge>
          {t.hint ? (
            <code className="hint" title="The token text ends in these characters">
              …{t.hint}
            </code>
          ) : null}
        </div>
        {t.description ? <div className="muted small token-desc">{t.description}</div> : null}
      </td>
      <td data-label="Scopes" className="cell-scopes">
        <ScopeChips scopes={t.scopes as ScopeEntry[]} />
      </td>
      <td data-label="Status" className="cell-status">
        <StatusBadge t={t} now={now} />
      </td>
      <td data-label="Expires" className="cell-expires">
        {status === "active" ? <span className="phone-label">Expires </span> : null}
        <ExpiryText t={t} now={now} />
      </td>
      <td data-label="Last use" className="cell-lastused">
        <span className="phone-label">Last use: </span>
        <LastUse t={t} now={now} />
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

/** Last recorded use, or "none recorded" — never "never": Convex queries can't record use. */
export function LastUse({ t, now, details }: { t: Pick<Token, "_id" | "lastUsedAt">; now: number; details?: boolean }) {
  if (!t.lastUsedAt) return <span className="muted">none recorded</span>;
  return (
    <>
      <time dateTime={new Date(t.lastUsedAt).toISOString()} title={absoluteTime(t.lastUsedAt)}>
        {ago(t.lastUsedAt, now)}
      </time>
      {details !== false ? <LastUseDetails tokenId={t._id} /> : null}
    </>
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
