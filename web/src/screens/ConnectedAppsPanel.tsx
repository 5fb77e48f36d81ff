import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useState } from "react";
import { api } from "../api";
import { Badge, ConfirmDialog, Empty, LiveView } from "../components/ui";
import { ScopeChips } from "../components/scopes";
import { useLive } from "../lib/live";
import { ago, absoluteTime, relativeTime, useNow } from "../lib/time";

type App = FunctionReturnType<typeof api.oauthServer.listConnectedApps>[number];

/** MCP clients (and other OAuth apps) that hold access for me; disconnect ends it on their next request. */
export function ConnectedAppsPanel() {
  const apps = useLive(api.oauthServer.listConnectedApps, {});
  const disconnect = useMutation(api.oauthServer.disconnectApp);
  const [confirm, setConfirm] = useState<App | null>(null);
  const now = useNow();
  return (
    <section aria-labelledby="apps-h">
      <div className="panel-head">
        <div>
          <h1 id="apps-h">Connected apps</h1>
          <p className="muted">Apps you allowed to use keyhole as you (Claude, Cursor, MCP clients). Updates live.</p>
        </div>
      </div>
      <LiveView live={apps} loadingLabel="Loading connected apps…" errorTitle="Couldn't load connected apps">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No connected apps">
              Add <code>{"<site>/mcp"}</code> as a remote MCP server in your client; it asks you to approve it here.
            </Empty>
          ) : (
            <ul className="rows card">
              {list.map((a) => (
                <li key={a.grantId} className="row" data-app-name={a.clientName}>
                  <div className="row-main">
                    <div>
                      <strong>{a.clientName}</strong>{" "}
                      {a.host ? (
                        <Badge tone="ok" title="Identity published as a client metadata document">
                          {a.host}
                        </Badge>
                      ) : (
                        <Badge tone="neutral" title="Registered itself (dynamic registration)">
                          self-registered
                        </Badge>
                      )}{" "}
                      <span className="muted small">· {a.resourceName}</span>
                    </div>
                    <ScopeChips scopes={a.scopes} />
                    <div className="muted small">
                      Connected <time title={absoluteTime(a.createdAt)}>{ago(a.createdAt, now)}</time> · Last used{" "}
                      {a.lastUsedAt ? <time title={absoluteTime(a.lastUsedAt)}>{ago(a.lastUsedAt, now)}</time> : "never"} ·
                      Access ends <time title={absoluteTime(a.expiresAt)}>{relativeTime(a.expiresAt, now)}</time> at the latest
                    </div>
                  </div>
                  <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setConfirm(a)}>
                    Disconnect
                  </button>
                </li>
              ))}
            </ul>
          )
        }
      </LiveView>
      {confirm ? (
        <ConfirmDialog
          title={`Disconnect ${confirm.clientName}?`}
          confirmLabel="Disconnect"
          onConfirm={() => disconnect({ grantId: confirm.grantId })}
          onClose={() => setConfirm(null)}
        >
          <p>Its access ends now: its next request fails, and it has to ask you again to reconnect.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
