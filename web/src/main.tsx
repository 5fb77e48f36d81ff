import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { ConvexReactClient } from "convex/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadConfig } from "./config";
import { ConfigContext } from "./lib/context";
import "./styles.css";

// The backend links to sections by path (e.g. `/connections?connected=github`
// after an OAuth connection); the app routes by hash: `/#/connections`.
const base = import.meta.env.BASE_URL;
const section = window.location.pathname.startsWith(base) ? window.location.pathname.slice(base.length).replace(/\/+$/, "") : "";
if (/^[a-z]+$/.test(section)) {
  window.history.replaceState(null, "", `${base}${window.location.search}#/${section}`);
}

const root = createRoot(document.getElementById("root")!);

// Clickjacking: another page could frame the dashboard (the consent screen's
// Allow, a Revoke) under a decoy and borrow the person's click. Framed, keyhole
// shows only a link that opens it in its own window, whatever the host's headers.
if (window.self !== window.top) {
  root.render(
    <main className="boot" role="alert">
      <h1>keyhole does not work inside another page</h1>
      <p>
        <a href={window.location.href} target="_blank" rel="noopener noreferrer">
          Open keyhole in its own window
        </a>
      </p>
    </main>,
  );
} else {
  loadConfig().then(
    (config) => {
      // initialAuthTokenReuse: once the server confirms the stored token, keep it
      // until shortly before it expires instead of refreshing it at once. That
      // refresh ran right after every sign-in and page load, and while it runs
      // @convex-dev/auth blocks leaving the page (a "Leave site?" prompt), so the
      // consent screen's return to the app could stall on it.
      const client = new ConvexReactClient(config.convexUrl, { initialAuthTokenReuse: true });
      root.render(
        <StrictMode>
          <ConfigContext.Provider value={config}>
            <ConvexAuthProvider client={client}>
              <App />
            </ConvexAuthProvider>
          </ConfigContext.Provider>
        </StrictMode>,
      );
    },
    (e: unknown) => {
      root.render(
        <main className="boot" role="alert">
          <h1>keyhole can't start</h1>
          <p>{e instanceof Error ? e.message : String(e)}</p>
        </main>,
      );
    },
  );
}
