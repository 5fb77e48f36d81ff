import { useConvex, usePaginatedQuery } from "convex/react";
import { useId, useMemo, useState } from "react";
import { AUDIT_ACTIONS } from "../../../convex/model/auditNames";
import { api } from "../api";
import { DataTable, Options } from "../components/fields";
import { Badge, Empty, Loading } from "../components/ui";
import { describeEvent, toCsv, toJson, type AuditEvent } from "../lib/auditText";
import { errorMessage } from "../lib/errors";
import { useLive } from "../lib/live";
import { absoluteTime, ago, DAY_MS, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";

const PAGE = 25;
/** An export reads at most this many events (100 a page). */
const EXPORT_MAX = 10_000;

type ActorKind = "user" | "pat" | "agent" | "anonymous" | "system";
const ACTORS: { id: ActorKind | ""; label: string }[] = [
  { id: "", label: "Anyone" },
  { id: "user", label: "People" },
  { id: "pat", label: "Tokens" },
  { id: "agent", label: "Agent sessions" },
  { id: "anonymous", label: "Anonymous" },
];
const AREAS: Record<string, string> = {
  token: "Tokens",
  auth: "Tokens",
  session: "Agent sessions",
  web_session: "Sign-ins",
  connection: "Connections",
  org: "Organizations",
  workspace: "Organizations",
  member: "Organizations",
  invite: "Organizations",
  webhook: "Organizations",
  oauth: "Connected apps",
};

function tone(action: string): "bad" | "warn" | "ok" | "neutral" {
  if (/failed|reuse|leak|used_after|rejected/.test(action)) return "bad";
  if (/revoked|ended|signed_out|removed|left/.test(action)) return "warn";
  if (/created|connected|added/.test(action)) return "ok";
  return "neutral";
}

/** yyyy-mm-dd (local) → ms at the start of that day; null when empty. */
function dayStart(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() : null;
}

type Filters = { action: string; tokenId: string; actorKind: string; from: string; to: string };

function queryArgs(f: Filters) {
  const from = dayStart(f.from);
  const to = dayStart(f.to);
  return {
    ...(f.action ? { action: f.action } : {}),
    ...(f.tokenId ? { tokenId: f.tokenId } : {}),
    ...(f.actorKind ? { actorKind: f.actorKind as ActorKind } : {}),
    ...(from !== null ? { from } : {}),
    ...(to !== null ? { to: to + DAY_MS } : {}), // through the end of that day
  };
}

function download(name: string, type: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const NO_FILTERS: Filters = { action: "", tokenId: "", actorKind: "", from: "", to: "" };

/** Reads every event matching `args` (up to EXPORT_MAX) and downloads them; `status` says how it went. */
function useAuditExport(args: ReturnType<typeof queryArgs>) {
  const convex = useConvex();
  const [status, setStatus] = useState<string | null>(null);
  async function exportAs(kind: "json" | "csv") {
    setStatus("Exporting…");
    try {
      const all: AuditEvent[] = [];
      let cursor: string | null = null;
      for (;;) {
        const page: { page: AuditEvent[]; isDone: boolean; continueCursor: string } = await convex.query(api.audit.list, { ...args, paginationOpts: { numItems: 100, cursor } });
        all.push(...page.page);
        if (page.isDone || all.length >= EXPORT_MAX) break;
        cursor = page.continueCursor;
      }
      const stamp = new Date().toISOString().slice(0, 10);
      if (kind === "json") download(`keyhole-audit-${stamp}.json`, "application/json", toJson(all));
      else download(`keyhole-audit-${stamp}.csv`, "text/csv", toCsv(all));
      setStatus(`Exported ${all.length} event${all.length === 1 ? "" : "s"} as ${kind.toUpperCase()}.`);
    } catch (e) {
      setStatus(`Export failed: ${errorMessage(e)}`);
    }
  }
  return { status, exportAs };
}

export function AuditPanel({ initialToken }: { initialToken?: string | null }) {
  const [filters, setFilters] = useState<Filters>({ ...NO_FILTERS, tokenId: initialToken ?? "" });
  const args = useMemo(() => queryArgs(filters), [filters]);
  const { results, status, loadMore } = usePaginatedQuery(api.audit.list, args, { initialNumItems: PAGE });
  const exporter = useAuditExport(args);
  const filtered = Object.values(filters).some((v) => v !== "");
  return (
    <section aria-labelledby="audit-h">
      <div className="panel-head">
        <div>
          <h1 id="audit-h">Audit log</h1>
          <p className="muted">What happened to your tokens, sessions and connections, newest first.</p>
        </div>
        <div className="btn-row">
          <button type="button" className="btn" onClick={() => void exporter.exportAs("json")}>
            Export JSON
          </button>
          <button type="button" className="btn" onClick={() => void exporter.exportAs("csv")}>
            Export CSV
          </button>
        </div>
      </div>
      <p className="muted small" role="status">
        {exporter.status ?? ""}
      </p>
      <AuditFilters filters={filters} setFilters={setFilters} filtered={filtered} />
      {status === "LoadingFirstPage" ? (
        <Loading label="Loading audit events…" />
      ) : results.length === 0 && status === "Exhausted" ? (
        <Empty title={filtered ? "No events match these filters" : "No events yet"} />
      ) : (
        <AuditTable events={results} />
      )}
      <div className="load-more">
        {status === "CanLoadMore" ? (
          <button type="button" className="btn" onClick={() => loadMore(PAGE)}>
            Load older events
          </button>
        ) : status === "LoadingMore" ? (
          <Loading label="Loading older events…" />
        ) : status === "Exhausted" && results.length > 0 ? (
          <p className="muted small">That's everything.</p>
        ) : null}
      </div>
    </section>
  );
}

/** Event, token, who and dates; every change is a new query. */
function AuditFilters({ filters, setFilters, filtered }: { filters: Filters; setFilters: (f: Filters) => void; filtered: boolean }) {
  const tokens = useLive(api.auth.listApiTokens, { status: "all" });
  const ids = { action: useId(), token: useId(), actor: useId(), from: useId(), to: useId() };
  const set = (patch: Partial<Filters>) => setFilters({ ...filters, ...patch });
  return (
    <form className="filters" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor={ids.action}>Event</label>
        <select id={ids.action} value={filters.action} onChange={(e) => set({ action: e.target.value })}>
          <option value="">All events</option>
          {[...new Set(Object.values(AREAS))].map((area) => (
            <optgroup key={area} label={area}>
              <Options options={AUDIT_ACTIONS.filter((a) => AREAS[a.split(".")[0]] === area).map((a) => ({ id: a, label: a }))} />
            </optgroup>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.token}>Token</label>
        <select id={ids.token} value={filters.tokenId} onChange={(e) => set({ tokenId: e.target.value })}>
          <option value="">All tokens</option>
          <Options
            options={(tokens.status === "ready" ? tokens.data.tokens : []).map((t) => ({
              id: t._id,
              label: `${t.name} (${t.status}${t.hint ? `, …${t.hint}` : ""})`,
            }))}
          />
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.actor}>Done by</label>
        <select id={ids.actor} value={filters.actorKind} onChange={(e) => set({ actorKind: e.target.value })}>
          <Options options={ACTORS} />
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.from}>From</label>
        <input id={ids.from} type="date" value={filters.from} onChange={(e) => set({ from: e.target.value })} />
      </div>
      <div className="field">
        <label htmlFor={ids.to}>To</label>
        <input id={ids.to} type="date" value={filters.to} onChange={(e) => set({ to: e.target.value })} />
      </div>
      {filtered ? (
        <button type="button" className="btn btn-small btn-ghost filters-clear" onClick={() => setFilters(NO_FILTERS)}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}

function AuditTable({ events }: { events: AuditEvent[] }) {
  const now = useNow(30_000);
  return (
    <DataTable className="table audit" caption="Audit events" columns={["When", "What happened", "From"]}>
      {events.map((e) => (
        <tr key={e._id} data-action={e.action}>
          <td data-label="When" className="nowrap">
            <time dateTime={new Date(e.at).toISOString()} title={absoluteTime(e.at)}>
              {ago(e.at, now)}
            </time>
          </td>
          <td data-label="What">
            <span className="audit-sentence">{describeEvent(e)}</span> <Badge tone={tone(e.action)}>{e.action}</Badge>
          </td>
          <td data-label="From" title={e.userAgent ?? undefined}>
            {e.ip ?? <span className="muted">—</span>}
            {e.userAgent ? <div className="muted small">{describeUserAgent(e.userAgent)}</div> : null}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}
