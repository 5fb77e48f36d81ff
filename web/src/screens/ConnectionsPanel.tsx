import { useAction, useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useEffect, useId, useState } from "react";
import { api } from "../api";
import { Badge, ConfirmDialog, Empty, ErrorNotice, FormError, Loading } from "../components/ui";
import { errorMessage } from "../lib/errors";
import { useLive } from "../lib/live";
import { ago, absoluteTime, useNow } from "../lib/time";

type Provider = FunctionReturnType<typeof api.oauth.listProviders>[number];
type Connection = FunctionReturnType<typeof api.auth.listOAuthConnections>[number];

const PROVIDER_NAMES: Record<string, string> = { github: "GitHub", slack: "Slack", oauth2: "OAuth2" };

const REASONS: Record<string, string> = {
  access_denied: "access was declined at the provider",
  not_bound: "this browser did not start that connection; start it again here",
  expired: "the sign-in at the provider took too long; try again",
  invalid_request: "the provider's answer was incomplete",
  provider_error: "the provider reported an error",
};

type Outcome = { ok: boolean; provider: string; reason: string | null };

/**
 * The backend's callback route sends the browser back to
 * `/connections?connected=<provider>` or `/connections?error=<reason>&provider=<p>`
 * (fixed words only, never a secret): say so once, then clean the address bar.
 */
function useCallbackOutcome(): [Outcome | null, () => void] {
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const connected = params.get("connected");
    const error = params.get("error");
    if (connected === null && error === null) return;
    const raw = connected ?? params.get("provider") ?? "";
    const provider = /^[a-z0-9_-]{1,40}$/.test(raw) ? raw : "";
    if (connected !== null) setOutcome({ ok: true, provider, reason: null });
    else {
      const reason = /^[a-z_]{1,40}$/.test(error!) ? (REASONS[error!] ?? error!.replace(/_/g, " ")) : "unknown error";
      setOutcome({ ok: false, provider, reason });
    }
    for (const k of ["connected", "error", "provider"]) params.delete(k);
    const q = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (q ? `?${q}` : "") + window.location.hash);
  }, []);
  return [outcome, () => setOutcome(null)];
}

function statusBadge(c: Connection, now: number) {
  if (c.status === "pending") return <Badge tone="neutral">connecting…</Badge>;
  if (c.status === "failed") return <Badge tone="bad">failed: {c.attempt?.error?.message ?? "connect again"}</Badge>;
  if (c.status === "needs_reconnect") return <Badge tone="bad">needs reconnect</Badge>;
  if (c.status === "expired" || (c.expiresAt !== null && c.expiresAt <= now)) {
    return c.canRefresh ? <Badge tone="neutral">refreshes on next use</Badge> : <Badge tone="warn">expired</Badge>;
  }
  return <Badge tone="ok">active</Badge>;
}

/** One connected account: provider, account, status, scopes, dates and its Disconnect button. */
function ConnectionRow(props: { c: Connection; name: string; now: number; onDisconnect: () => void }) {
  const { c, name, now, onDisconnect } = props;
  return (
    <li className="row">
      <div className="row-main">
        <div>
          <strong>{name}</strong>
          {c.accountLogin ?? c.accountId ? <span className="muted"> · {c.accountLogin ?? c.accountId}</span> : null}{" "}
          {statusBadge(c, now)}
        </div>
        <div className="muted small">
          {c.scopes.length > 0 ? `Scopes: ${c.scopes.join(", ")}` : "No scopes reported"} · Connected{" "}
          <time title={absoluteTime(c.createdAt)}>{ago(c.createdAt, now)}</time>
          {c.lastUsedAt !== null ? (
            <>
              {" "}
              · Last used <time title={absoluteTime(c.lastUsedAt)}>{ago(c.lastUsedAt, now)}</time>
            </>
          ) : null}
        </div>
      </div>
      <button
        type="button"
        className="btn btn-small btn-danger-outline"
        onClick={onDisconnect}
        aria-label={`Disconnect ${name}`}
      >
        Disconnect
      </button>
    </li>
  );
}

/** One configured provider: its default scopes, a field for other scopes, and its Connect button. */
function ProviderRow(props: {
  p: Provider;
  inputId: string;
  connected: boolean;
  busy: string | null;
  scope: string;
  setScope: (v: string) => void;
  onConnect: () => void;
}) {
  const { p, inputId, connected, busy, scope, setScope, onConnect } = props;
  return (
    <li className="row row-wrap">
      <div className="row-main">
        <strong>{p.name}</strong>
        <span className="muted small">
          {connected ? "Connected — connect again to change scopes. " : ""}
          {p.defaultScopes.length > 0 ? `Default scopes: ${p.defaultScopes.join(", ")}` : null}
        </span>
      </div>
      <label className="sr-only" htmlFor={inputId}>
        Scopes to request from {p.name} (optional, space-separated)
      </label>
      <input
        id={inputId}
        className="input-small"
        placeholder="scopes (optional)"
        value={scope}
        onChange={(e) => setScope(e.target.value)}
        spellCheck={false}
      />
      <button type="button" className="btn btn-small btn-primary" disabled={busy !== null} onClick={onConnect}>
        {busy === p.provider ? "Redirecting…" : `Connect ${p.name}`}
      </button>
    </li>
  );
}

/** Starting a connection: the scopes typed per provider, the provider being redirected to, and the last error. */
function useConnect() {
  const initiate = useMutation(api.auth.initiateOAuth);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [scopeText, setScopeText] = useState<Record<string, string>>({});

  async function connect(p: Provider) {
    setBusy(p.provider);
    setActionError(null);
    try {
      const typed = (scopeText[p.provider] ?? "").split(/[\s,]+/).filter(Boolean);
      const { authUrl } = await initiate({
        provider: p.provider,
        scopes: typed.length > 0 ? typed : p.defaultScopes,
        redirectUri: p.callbackUrl,
      });
      window.location.assign(authUrl);
    } catch (e) {
      setActionError(errorMessage(e));
      setBusy(null);
    }
  }
  return { busy, actionError, scopeText, setScopeText, connect };
}

/** The notice after coming back from the provider: connected, or why not. */
function OutcomeNotice(props: { outcome: Outcome; nameOf: (id: string) => string; onDismiss: () => void }) {
  const { outcome, nameOf, onDismiss } = props;
  return (
    <p className={`notice ${outcome.ok ? "notice-ok" : "notice-bad"}`} role="status">
      {outcome.ok
        ? `${outcome.provider ? nameOf(outcome.provider) : "The account"} is connected.`
        : `Connecting ${outcome.provider ? nameOf(outcome.provider) : "the account"} failed: ${outcome.reason}.`}{" "}
      <button type="button" className="link" onClick={onDismiss}>
        Dismiss
      </button>
    </p>
  );
}

export function ConnectionsPanel() {
  const providers = useLive(api.oauth.listProviders, {});
  const connections = useLive(api.auth.listOAuthConnections, {});
  const revoke = useAction(api.auth.revokeOAuth);
  const { busy, actionError, scopeText, setScopeText, connect } = useConnect();
  const [disconnecting, setDisconnecting] = useState<Connection | null>(null);
  const [outcome, clearOutcome] = useCallbackOutcome();
  const now = useNow();
  const baseId = useId();

  const connList = connections.status === "ready" ? connections.data : [];
  const nameOf = (id: string) =>
    (providers.status === "ready" ? providers.data.find((p) => p.provider === id)?.name : undefined) ?? PROVIDER_NAMES[id] ?? id;
  const connected = new Set(connList.map((c) => c.provider));

  return (
    <section aria-labelledby="conn-h">
      <div className="panel-head">
        <div>
          <h1 id="conn-h">OAuth connections</h1>
          <p className="muted">
            Accounts your agents may use through keyhole (with <code>connections:use</code>). Provider tokens stay encrypted on the
            server; agents get short-lived access tokens, never the refresh token.
          </p>
        </div>
      </div>
      {outcome ? <OutcomeNotice outcome={outcome} nameOf={nameOf} onDismiss={clearOutcome} /> : null}
      <FormError>{actionError}</FormError>

      <h2 className="section-h">Connected accounts</h2>
      {connections.status === "loading" ? <Loading label="Loading connections…" /> : null}
      {connections.status === "error" ? <ErrorNotice error={connections.error} title="Couldn't load connections" /> : null}
      {connections.status === "ready" && connList.length === 0 ? <Empty title="No connected accounts yet" /> : null}
      {connList.length > 0 ? (
        <ul className="rows card">
          {connList.map((c) => (
            <ConnectionRow key={c._id} c={c} name={nameOf(c.provider)} now={now} onDisconnect={() => setDisconnecting(c)} />
          ))}
        </ul>
      ) : null}

      <h2 className="section-h">Connect an account</h2>
      {providers.status === "loading" ? <Loading label="Loading providers…" /> : null}
      {providers.status === "error" ? <ErrorNotice error={providers.error} title="Couldn't load providers" /> : null}
      {providers.status === "ready" && providers.data.length === 0 ? (
        <Empty title="No OAuth providers are configured">The server's admin enables GitHub, Slack or a generic OAuth2 provider with env variables.</Empty>
      ) : null}
      {providers.status === "ready" && providers.data.length > 0 ? (
        <ul className="rows card">
          {providers.data.map((p) => (
            <ProviderRow
              key={p.provider}
              p={p}
              inputId={`${baseId}-${p.provider}`}
              connected={connected.has(p.provider)}
              busy={busy}
              scope={scopeText[p.provider] ?? ""}
              setScope={(v) => setScopeText({ ...scopeText, [p.provider]: v })}
              onConnect={() => void connect(p)}
            />
          ))}
        </ul>
      ) : null}

      {disconnecting ? (
        <ConfirmDialog
          title={`Disconnect ${nameOf(disconnecting.provider)}?`}
          confirmLabel="Disconnect"
          onConfirm={() => revoke({ provider: disconnecting.provider })}
          onClose={() => setDisconnecting(null)}
        >
          <p>keyhole deletes the stored tokens now and asks the provider to revoke them. Agents lose access at once.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
