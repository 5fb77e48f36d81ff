import { useAuthActions, useAuthToken, useConvexAuth } from "@convex-dev/auth/react";
import { useConvexConnectionState, useMutation } from "convex/react";
import { useCallback, useEffect, useRef, useState } from "react";
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

function tabFromHash(): TabId {
  const id = window.location.hash.replace(/^#\/?/, "").split("?")[0];
  return (TABS.find((t) => t.id === id)?.id ?? "tokens") as TabId;
}

function useTab(): TabId {
  const [tab, setTab] = useState<TabId>(tabFromHash);
  useEffect(() => {
    const on = () => setTab(tabFromHash());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return tab;
}

export function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const [notice, setNotice] = useState<string | null>(null);
  if (isLoading) {
    return (
      <main className="auth">
        <Loading label="Connecting…" />
      </main>
    );
  }
  // An app asking for access (keyhole's OAuth authorization endpoint sent the browser here).
  const consent = window.location.hash.startsWith("#/consent") ? consentRequestId() : null;
  if (!isAuthenticated) {
    return <AuthScreen notice={consent !== null ? "An app asks to connect to keyhole: sign in to review it." : notice} />;
  }
  if (consent !== null) return <ConsentScreen requestId={consent} />;
  return <Dashboard onSignedOut={setNotice} />;
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

function ConnectionBanner() {
  const state = useConvexConnectionState();
  if (!state.hasEverConnected || state.isWebSocketConnected) return null;
  return (
    <p className="banner" role="status">
      Reconnecting to the backend… changes will appear when the connection is back.
    </p>
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
  const tab = useTab();
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
  useEffect(() => {
    document.title = `${active.label} · keyhole`;
  }, [active.label]);

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
      <ConnectionBanner />
      <main id="main" ref={mainRef} tabIndex={-1} className="content">
        <NoticesBar />
        {inviteCode ? <AcceptInvite code={inviteCode} onDone={clearInvite} /> : null}
        <ErrorBoundary key={tab} title={`Couldn't show ${active.label.toLowerCase()}`}>
          {tab === "tokens" ? <TokensPanel /> : null}
          {tab === "sessions" ? <SessionsPanel /> : null}
          {tab === "devices" ? <DevicesPanel /> : null}
          {tab === "connections" ? <ConnectionsPanel /> : null}
          {tab === "apps" ? <ConnectedAppsPanel /> : null}
          {tab === "orgs" ? <OrgsPanel /> : null}
          {tab === "webhooks" ? <WebhooksPanel /> : null}
          {tab === "audit" ? <AuditPanel /> : null}
        </ErrorBoundary>
      </main>
    </div>
  );
}
