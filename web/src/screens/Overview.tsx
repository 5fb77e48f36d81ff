import { api } from "../api";
import { useLive } from "../lib/live";

/** At a glance: active tokens, live agent sessions, and this week's use and refusals. */
export function Overview() {
  const o = useLive(api.dashboard.overview, {});
  if (o.status !== "ready") return null; // the token list below shows loading and errors
  const { activeTokens, liveSessions, usesThisWeek, refusedThisWeek } = o.data;
  return (
    <ul className="stats" aria-label="Overview">
      <li className="stat">
        <span className="stat-value">{activeTokens}</span>
        <span className="stat-label">active token{activeTokens === 1 ? "" : "s"}</span>
      </li>
      <li className="stat">
        <a href="#/sessions" className="stat-link">
          <span className="stat-value">{liveSessions}</span>
          <span className="stat-label">live agent session{liveSessions === 1 ? "" : "s"}</span>
        </a>
      </li>
      <li className="stat">
        <span className="stat-value">{usesThisWeek}</span>
        <span className="stat-label">minutes with use this week</span>
      </li>
      <li className={`stat${refusedThisWeek > 0 ? " stat-bad" : ""}`}>
        <span className="stat-value">{refusedThisWeek}</span>
        <span className="stat-label">refused this week</span>
      </li>
    </ul>
  );
}
