import { useAuthActions, useAuthToken, useConvexAuth } from "@convex-dev/auth/react";
import { useConvexConnectionState, useMutation } from "convex/react";
import { useCallback, useEffect, useRef, useState } from "react";
import { useBackendDown } from "./lib/connection";
import { useConfig } from "./lib/context";
import { useRoute } from "./lib/route";
import { TokenDetail } from "./screens/TokenDetail";
import { api } from "./api";
import { ErrorBoundary, Loading } from "./components/ui";
import { isSignedOutError } from "./lib/errors";
import { useLive } from "./lib/live";
import { AcceptInvite, inviteCodeFromHash } from "./screens/AcceptInvite";
import { AuditPanel } from "./screens/AuditPanel";
import { AuthScreen } from "./screens/AuthScreen";
import { ConnectedAppsPanel } from "./screens/ConnectedAppsPanel";
import { ConnectionsPanel } from "./screens/ConnectionsPanel";
import { ConsentScreen, consentRequestId } from "./screens/ConsentScreen";
import { DevicesPanel } from "./screens/DevicesPanel";
import { NoticesBar } from "./screens/Notices";
import { OrgsPanel } from "./screens/OrgsPanel";
import { SessionsPanel } from "./screens/SessionsPanel";
import { TokensPanel } from "./screens/TokensPanel";
import { WebhooksPanel } from "./screens/WebhooksPanel";

const TABS = [
  { id: "tokens", label: "Tokens" },
  { id: "sessions", label: "Agent sessions" },
  { id: "devices", label: "Devices" },
  { id: "connections", label: "Connections" },
  { id: "apps", label: "Connected apps" },
  { id: "orgs", label: "Organizations" },
  { id: "webhooks", label: "Webhooks" },
  { id: "audit", label: "Audit log" },
] as const;
type TabId = (typeof TABS)[number]["id"];

export function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const [notice, setNotice] = useState<string | null>(null);
  // An app asking for access (keyhole's OAuth authorization endpoint sent the browser here).
  const consent = !isLoading && window.location.hash.startsWith("#/consent") ? consentRequestId() : null;
  return (
    <>
      <ConnectionBanner />
      {isLoading ? (
        <main className="auth" id="main" tabIndex={-1}>
          <Loading label="Connecting…" />
        </main>
      ) : !isAuthenticated ? (
        <AuthScreen notice={consent !== null ? "An app asks to connect to keyhole: sign in to review it." : notice} />
      ) : consent !== null ? (
        <ConsentScreen requestId={consent} />
      ) : (
        <Dashboard onSignedOut={setNotice} />
      )}
    </>
  );
}

/** The auth session id inside a @convex-dev/auth JWT (subject `userId|sessionId`). */
function sessionIdOf(jwt: string | null): string | null {
  if (!jwt) return null;
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = (JSON.parse(atob(payload)) as { sub?: unknown }).sub;
    return typeof sub === "string" ? (sub.split("|")[1] ?? null) : null;
  } catch {
    return null;
  }
}

const WEB_SESSION_KEY = "keyhole:webSessionRecorded";

/** Records this sign-in's device facts once (the device list shows them). */
function useRecordWebSession() {
  const token = useAuthToken();
  const createWebSession = useMutation(api.auth.createWebSession);
  const inFlight = useRef<string | null>(null);
  const sessionId = sessionIdOf(token);
  useEffect(() => {
    if (sessionId === null || inFlight.current === sessionId) return;
    if (window.localStorage.getItem(WEB_SESSION_KEY) === sessionId) return;
    inFlight.current = sessionId;
    createWebSession({ userAgent: navigator.userAgent.slice(0, 256) }).then(
      () => window.localStorage.setItem(WEB_SESSION_KEY, sessionId),
      () => {
        // Not fatal: the device list just lacks facts; tried again next load.
        inFlight.current = null;
      },
    );
  }, [sessionId, createWebSession]);
}

/** Shown from the first load on: a backend that is down says so instead of "Loading…" forever. */
function ConnectionBanner() {
  const state = useConvexConnectionState();
  const down = useBackendDown();
  const { convexUrl } = useConfig();
  return (
    <div role="status" aria-live="polite">
      {down ? (
        <p className="banner" data-testid="connection-banner">
          {state.hasEverConnected
            ? "Lost the connection to the keyhole backend. Reconnecting… changes will appear when it is back."
            : `Can't reach the keyhole backend at ${convexUrl}. Retrying… check that it is running.`}
        </p>
      ) : null}
    </div>
  );
}

/** An invitation link's code, read once and then taken out of the address bar. */
function useInviteCode(): [string | null, () => void] {
  const [code, setCode] = useState<string | null>(() => inviteCodeFromHash(window.location.hash));
  useEffect(() => {
    // location.replace: the link's history entry is overwritten, and hashchange moves to the tab.
    if (inviteCodeFromHash(window.location.hash) !== null) window.location.replace("#/orgs");
    const on = () => {
      const next = inviteCodeFromHash(window.location.hash);
      if (next !== null) {
        setCode(next);
        window.location.replace("#/orgs");
      }
    };
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, [code]);
  return [code, () => setCode(null)];
}

function Dashboard({ onSignedOut }: { onSignedOut: (notice: string | null) => void }) {
  const { signOut } = useAuthActions();
  const me = useLive(api.users.me, {});
  const route = useRoute();
  const tab = (TABS.find((t) => t.id === route.section)?.id ?? "tokens") as TabId;
  const [inviteCode, clearInvite] = useInviteCode();
  const mainRef = useRef<HTMLElement>(null);
  useRecordWebSession();

  const doSignOut = useCallback(
    async (notice: string | null) => {
      window.localStorage.removeItem(WEB_SESSION_KEY);
      onSignedOut(notice);
      await signOut();
    },
    [signOut, onSignedOut],
  );

  // Signed out from another device (or the sign-in expired): the live query
  // fails with `unauthenticated`; drop the local tokens and say why.
  const endedElsewhere = me.status === "error" && isSignedOutError(me.error);
  useEffect(() => {
    if (endedElsewhere) void doSignOut("You were signed out (this sign-in ended on another device or expired). Sign in again.");
  }, [endedElsewhere, doSignOut]);

  const active = TABS.find((t) => t.id === tab)!;
  const tokenId = tab === "tokens" ? route.id : null;
  useEffect(() => {
    document.title = `${tokenId ? "Token" : active.label} · keyhole`;
  }, [active.label, tokenId]);

  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <header className="topbar">
        <p className="brand">
          <span className="brand-mark" aria-hidden="true" /> keyhole
        </p>
        <div className="topbar-user">
          <span className="who" title={me.status === "ready" ? (me.data.email ?? undefined) : undefined}>
            {me.status === "ready" ? (me.data.email ?? me.data.name ?? "Signed in") : me.status === "loading" ? "…" : ""}
          </span>
          <button type="button" className="btn btn-small" onClick={() => void doSignOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <nav className="tabs" aria-label="Sections">
        <ul>
          {TABS.map((t) => (
            <li key={t.id}>
              <a href={`#/${t.id}`} aria-current={t.id === tab ? "page" : undefined}>
                {t.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={mainRef} tabIndex={-1} className="content">
        <NoticesBar />
        {inviteCode ? <AcceptInvite code={inviteCode} onDone={clearInvite} /> : null}
        <ErrorBoundary key={tab} title={`Couldn't show ${active.label.toLowerCase()}`}>
          {tab === "tokens" ? tokenId ? <TokenDetail key={tokenId} tokenId={tokenId} /> : <TokensPanel /> : null}
          {tab === "sessions" ? <SessionsPanel /> : null}
          {tab === "devices" ? <DevicesPanel /> : null}
          {tab === "connections" ? <ConnectionsPanel /> : null}
          {tab === "apps" ? <ConnectedAppsPanel /> : null}
          {tab === "orgs" ? <OrgsPanel /> : null}
          {tab === "webhooks" ? <WebhooksPanel /> : null}
          {tab === "audit" ? <AuditPanel initialToken={route.params.get("token")} /> : null}
        </ErrorBoundary>
      </main>
    </div>
  );
}
