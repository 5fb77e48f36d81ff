import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { type ReactNode, useMemo, useState } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { api } from "../api";
import { ScopeChips } from "../components/scopes";
import { Badge, ConfirmDialog, Empty, LiveView } from "../components/ui";
import { useLive } from "../lib/live";
import { ago, absoluteTime, relativeTime, useNow } from "../lib/time";

type Session = FunctionReturnType<typeof api.sessions.listAgentSessions>[number];

function metadataSummary(metadata: unknown): [string, string][] {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return [];
  return Object.entries(metadata as Record<string, unknown>)
    .filter(([, v]) => ["string", "number", "boolean"].includes(typeof v))
    .slice(0, 4)
    .map(([k, v]) => [k, String(v).slice(0, 60)]);
}

/** One live session: when and from what it started, last use, expiry, scopes, metadata and its End button. */
function SessionRow(props: { s: Session; now: number; tokenName: string | null; onEnd: () => void }) {
  const { s, now, tokenName, onEnd } = props;
  return (
    <li className="row" data-session-id={s._id}>
      <div className="row-main">
        <div>
          Started <time title={absoluteTime(s.createdAt)}>{ago(s.createdAt, now)}</time>
          {s.parentTokenId ? (
            <>
              {" "}
              from token <strong>{tokenName}</strong>
            </>
          ) : (
            " by you"
          )}
        </div>
        <div className="muted small">
          Last recorded use{" "}
          {s.lastSeenAt ? <time title={absoluteTime(s.lastSeenAt)}>{ago(s.lastSeenAt, now)}</time> : "none"} · Expires{" "}
          <time title={absoluteTime(s.expiresAt)}>{relativeTime(s.expiresAt, now)}</time>
        </div>
        <div className="session-scopes">
          <span className="muted small">Can do: </span>
          {s.scopes.length === 0 && s.parentTokenId ? (
            <span className="small">everything its token allows</span>
          ) : (
            <ScopeChips scopes={s.scopes as ScopeEntry[]} />
          )}
          {s.parentTokenId && s.scopes.length > 0 ? (
            <span className="muted small"> (and only within its token's scopes)</span>
          ) : null}
        </div>
        {metadataSummary(s.metadata).length > 0 ? (
          <ul className="chips">
            {metadataSummary(s.metadata).map(([k, v]) => (
              <li key={k} className="chip">
                <span className="chip-resource">{k}</span>
                <span className="chip-sep" aria-hidden="true">
                  ·
                </span>
                {v}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      {s.expiresAt - now < 5 * 60_000 ? <Badge tone="warn">expiring</Badge> : null}
      <button
        type="button"
        className="btn btn-small"
        onClick={onEnd}
        aria-label={`End session of ${s.agentId} started ${ago(s.createdAt, now)}`}
      >
        End
      </button>
    </li>
  );
}

/** An agent's sessions under its id, with "End all for …". */
function AgentCard(props: { agentId: string; count: number; onEndAll: () => void; children: ReactNode }) {
  const { agentId, count, onEndAll, children } = props;
  return (
    <article className="card" aria-labelledby={`agent-${agentId}`}>
      <div className="card-head">
        <h2 id={`agent-${agentId}`} className="mono">
          {agentId}
        </h2>
        <span className="muted small">
          {count} session{count === 1 ? "" : "s"}
        </span>
        <button type="button" className="btn btn-small btn-danger-outline push" onClick={onEndAll}>
          End all for {agentId}
        </button>
      </div>
      <ul className="rows">{children}</ul>
    </article>
  );
}

type Confirm = { kind: "one"; s: Session } | { kind: "agent"; agentId: string; count: number };

/** The confirmation before ending one session or all of an agent's. */
function EndConfirm({ confirm, onClose }: { confirm: Confirm | null; onClose: () => void }) {
  const endOne = useMutation(api.sessions.endAgentSession);
  const endAll = useMutation(api.sessions.endAgentSessionsForAgent);
  return (
    <>
      {confirm?.kind === "one" ? (
        <ConfirmDialog
          title={`End this session of ${confirm.s.agentId}?`}
          confirmLabel="End session"
          onConfirm={() => endOne({ sessionId: confirm.s._id })}
          onClose={onClose}
        >
          <p>The agent's next request with this session (or its refresh token) fails.</p>
        </ConfirmDialog>
      ) : null}
      {confirm?.kind === "agent" ? (
        <ConfirmDialog
          title={`End all sessions of ${confirm.agentId}?`}
          confirmLabel={`End ${confirm.count} session${confirm.count === 1 ? "" : "s"}`}
          onConfirm={() => endAll({ agentId: confirm.agentId })}
          onClose={onClose}
        >
          <p>Every live session of this agent ends now; it has to start a new one to keep working.</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

export function SessionsPanel() {
  const sessions = useLive(api.sessions.listAgentSessions, {});
  const tokens = useLive(api.auth.listApiTokens, { status: "all" });
  const tokenNames = useMemo(
    () => new Map<string, string>(tokens.status === "ready" ? tokens.data.tokens.map((t) => [t._id as string, t.name]) : []),
    [tokens],
  );
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const now = useNow(15_000, sessions.status === "ready" ? sessions.data.map((s) => s.expiresAt) : []);

  return (
    <section aria-labelledby="sessions-h">
      <div className="panel-head">
        <div>
          <h1 id="sessions-h">Agent sessions</h1>
          <p className="muted">
            Short-lived credentials your agents hold right now. Updates live. Use is recorded for mutations, actions,
            HTTP and MCP calls (Convex queries can't record it).
          </p>
        </div>
      </div>
      <LiveView live={sessions} loadingLabel="Loading agent sessions…" errorTitle="Couldn't load agent sessions">
        {(list) => {
          const live = list.filter((s) => s.expiresAt > now);
          if (live.length === 0) {
            return (
              <Empty title="No live agent sessions">
                An agent starts one with <code>keyhole session create --agent ID</code> or <code>createSession</code>.
              </Empty>
            );
          }
          const byAgent = new Map<string, Session[]>();
          for (const s of live) byAgent.set(s.agentId, [...(byAgent.get(s.agentId) ?? []), s]);
          return (
            <div className="stack">
              {[...byAgent].map(([agentId, group]) => (
                <AgentCard
                  key={agentId}
                  agentId={agentId}
                  count={group.length}
                  onEndAll={() => setConfirm({ kind: "agent", agentId, count: group.length })}
                >
                  {group.map((s) => (
                    <SessionRow
                      key={s._id}
                      s={s}
                      now={now}
                      tokenName={s.parentTokenId ? (tokenNames.get(s.parentTokenId as string) ?? "a token") : null}
                      onEnd={() => setConfirm({ kind: "one", s })}
                    />
                  ))}
                </AgentCard>
              ))}
            </div>
          );
        }}
      </LiveView>
      <EndConfirm confirm={confirm} onClose={() => setConfirm(null)} />
    </section>
  );
}
