import { usePaginatedQuery } from "convex/react";
import { useMemo } from "react";
import { api } from "../api";
import { useLive } from "../lib/live";
import { Badge, Empty, Loading } from "../components/ui";
import { ago, absoluteTime, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";

const PAGE = 25;

function tone(action: string): "bad" | "warn" | "ok" | "neutral" {
  if (/denied|fail|reuse|leak|revoked_use|invalid/i.test(action)) return "bad";
  if (/revok|end|sign.?out|remove|disconnect/i.test(action)) return "warn";
  if (/creat|connect|add|sign.?in/i.test(action)) return "ok";
  return "neutral";
}

export function AuditPanel() {
  const { results, status, loadMore } = usePaginatedQuery(api.audit.list, {}, { initialNumItems: PAGE });
  const now = useNow(30_000);
  // Names instead of raw ids: my user id and my tokens' names.
  const me = useLive(api.users.me, {});
  const tokens = useLive(api.auth.listApiTokens, { status: "all" });
  const tokenNames = useMemo(
    () => new Map<string, string>(tokens.status === "ready" ? tokens.data.tokens.map((t) => [t._id as string, t.name]) : []),
    [tokens],
  );
  const myId = me.status === "ready" ? (me.data.userId as string) : null;
  const actor = (kind: string, id: string | undefined) => {
    if (kind === "user") return id !== undefined && id === myId ? "you" : "a person";
    if (kind === "pat") return id !== undefined && tokenNames.has(id) ? `token ${tokenNames.get(id)}` : "a token";
    if (kind === "agent") return "an agent session";
    return kind;
  };
  const target = (type: string | undefined, id: string | undefined) => {
    if (type === undefined) return null;
    if (type === "apiToken" && id !== undefined && tokenNames.has(id)) return `token ${tokenNames.get(id)}`;
    return type;
  };
  return (
    <section aria-labelledby="audit-h">
      <div className="panel-head">
        <div>
          <h1 id="audit-h">Audit log</h1>
          <p className="muted">What happened to your tokens, sessions and connections, newest first.</p>
        </div>
      </div>
      {status === "LoadingFirstPage" ? (
        <Loading label="Loading audit events…" />
      ) : results.length === 0 ? (
        <Empty title="No events yet" />
      ) : (
        <div className="table-wrap">
          <table className="table audit">
            <caption className="sr-only">Audit events</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">By</th>
                <th scope="col">Target</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {results.map((e) => (
                <tr key={e._id}>
                  <td data-label="When" className="nowrap">
                    <time dateTime={new Date(e.at).toISOString()} title={absoluteTime(e.at)}>
                      {ago(e.at, now)}
                    </time>
                  </td>
                  <td data-label="Event">
                    <Badge tone={tone(e.action)}>{e.action}</Badge>
                    {e.details ? <div className="muted small audit-details">{e.details}</div> : null}
                  </td>
                  <td data-label="By">{actor(e.actorKind, e.actorId)}</td>
                  <td data-label="Target">{target(e.targetType, e.targetId) ?? <span className="muted">—</span>}</td>
                  <td data-label="From" title={e.userAgent ?? undefined}>
                    {e.ip ?? <span className="muted">—</span>}
                    {e.userAgent ? <div className="muted small">{describeUserAgent(e.userAgent)}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
