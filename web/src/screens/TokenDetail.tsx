import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { lazy, Suspense, useState } from "react";
import type { Id } from "../../../convex/_generated/dataModel";
import type { ScopeEntry } from "../../../shared/scopes";
import { api } from "../api";
import { ScopeDetails } from "../components/scopes";
import { Badge, Loading, LiveView } from "../components/ui";
import { useLive } from "../lib/live";
import { absoluteTime, ago, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";
import { EditTokenDialog, RegenerateDialog } from "./TokenActions";
import { ExpiryText, RevokeDialog, StatusBadge, statusNow } from "./TokensPanel";

// uPlot is loaded with the detail view only.
const ActivityChart = lazy(() => import("../components/ActivityChart"));

type Token = FunctionReturnType<typeof api.auth.getApiToken>;

/** The token's facts: id hint, id, created, expiry and last recorded use. */
function TokenFacts({ t, now }: { t: Token; now: number }) {
  return (
    <dl className="facts card">
      <div>
        <dt>Ends in</dt>
        <dd>{t.hint ? <code>…{t.hint}</code> : <span className="muted">not recorded (created before IDs were kept)</span>}</dd>
      </div>
      <div>
        <dt>Token id</dt>
        <dd>
          <code className="break">{t._id}</code>
        </dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd title={absoluteTime(t.createdAt)}>{ago(t.createdAt, now)}</dd>
      </div>
      <div>
        <dt>Expires</dt>
        <dd>
          <ExpiryText t={t} now={now} />
        </dd>
      </div>
      <div>
        <dt>Last recorded use</dt>
        <dd>
          {t.lastUsedAt ? (
            <>
              <time title={absoluteTime(t.lastUsedAt)}>{ago(t.lastUsedAt, now)}</time>
              <div className="muted small">
                {[t.lastUsedIp, t.lastUsedUserAgent ? describeUserAgent(t.lastUsedUserAgent) : null].filter(Boolean).join(" · ")}
              </div>
            </>
          ) : (
            <span className="muted">none recorded</span>
          )}
          <div className="muted small">Mutations, actions, HTTP and MCP calls; Convex queries can't be recorded.</div>
        </dd>
      </div>
    </dl>
  );
}

/** One token: its facts, scopes in words, last use, a 30-day activity chart; revoke. */
export function TokenDetail({ tokenId }: { tokenId: string }) {
  const token = useLive(api.auth.getApiToken, { tokenId: tokenId as Id<"apiTokens"> });
  const activity = useLive(api.dashboard.tokenActivity, { tokenId });
  const revoke = useMutation(api.auth.revokeApiToken);
  const [action, setAction] = useState<"edit" | "regenerate" | "revoke" | null>(null);
  const now = useNow(15_000, token.status === "ready" ? [token.data.expiresAt] : []);
  return (
    <section aria-labelledby="token-h">
      <p className="back">
        <a href="#/tokens">← All tokens</a>
      </p>
      <LiveView live={token} loadingLabel="Loading token…" errorTitle="Couldn't load this token">
        {(t) => (
          <>
            <div className="panel-head">
              <div>
                <h1 id="token-h" tabIndex={-1} className="token-title">
                  {t.name} <Badge tone="neutral">{t.type}</Badge> <StatusBadge t={t} now={now} />
                </h1>
                {t.description ? <p className="muted">{t.description}</p> : null}
              </div>
              <div className="btn-row">
                <button type="button" className="btn" onClick={() => setAction("edit")}>
                  Edit…
                </button>
                {statusNow(t, now) === "active" ? (
                  <>
                    <button type="button" className="btn" onClick={() => setAction("regenerate")}>
                      Regenerate…
                    </button>
                    <button type="button" className="btn btn-danger-outline" onClick={() => setAction("revoke")}>
                      Revoke…
                    </button>
                  </>
                ) : null}
              </div>
            </div>
            <div className="detail-grid">
              <TokenFacts t={t} now={now} />
              <div className="card">
                <h2 className="section-h">What it can do</h2>
                <ScopeDetails scopes={t.scopes as ScopeEntry[]} />
              </div>
            </div>
            <div className="card">
              <LiveView live={activity} loadingLabel="Loading activity…" errorTitle="Couldn't load activity">
                {(days) => (
                  <Suspense fallback={<Loading label="Loading chart…" />}>
                    <ActivityChart days={days} title="Activity, last 30 days" />
                  </Suspense>
                )}
              </LiveView>
              <p className="muted small">
                A minute counts once however many requests it had (use is recorded at most once a minute). Refused: requests with this
                token after it was revoked or expired. <a href={`#/audit?token=${t._id}`}>Audit events for this token</a>
              </p>
            </div>
            {action === "revoke" ? <RevokeDialog token={t} onRevoke={() => revoke({ tokenId: t._id })} onClose={() => setAction(null)} /> : null}
            {action === "edit" ? <EditTokenDialog token={t} onClose={() => setAction(null)} /> : null}
            {action === "regenerate" ? (
              <RegenerateDialog
                token={t}
                onCancel={() => setAction(null)}
                onDone={(newId) => {
                  setAction(null);
                  window.location.hash = `#/tokens/${newId}`;
                }}
              />
            ) : null}
          </>
        )}
      </LiveView>
    </section>
  );
}
