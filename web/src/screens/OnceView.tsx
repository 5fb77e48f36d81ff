import { useEffect, useId, useRef, type ReactNode } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { claudeCodeCommand, claudeDesktopConfig } from "../../../convex/model/mcpClientConfig";
import { api } from "../api";
import { ScopeChips } from "../components/scopes";
import { CopyButton, useRequestClose, type CloseGuard } from "../components/ui";
import { useConfig } from "../lib/context";
import { useLive } from "../lib/live";
import { absoluteTime } from "../lib/time";

/** Asked before the once-view closes while nothing holding the token was copied. */
export const ONCE_GUARD: CloseGuard = {
  title: "Close without copying the token?",
  body: "This is the only time it is shown. If you haven't saved it, you will have to create another token.",
  keepLabel: "Go back",
  closeLabel: "Close anyway",
};

export type CreatedToken = {
  token: string;
  name: string;
  type: "PAT" | "MCP";
  expiresAt: number;
  scopes: ScopeEntry[];
  warnings: string[];
};

/** A block of text to copy: a labelled, keyboard-scrollable <pre> and its Copy button. */
export function CopyBlock({ label, copyLabel, text, onCopied }: { label: string; copyLabel: string; text: string; onCopied?: () => void }) {
  const id = useId();
  return (
    <div className="copy-block">
      <div className="copy-block-head">
        <span id={id} className="copy-block-label">
          {label}
        </span>
        <CopyButton text={text} label={copyLabel} className="btn btn-small" onCopied={onCopied} />
      </div>
      <pre tabIndex={0} aria-labelledby={id}>
        {text}
      </pre>
    </div>
  );
}

/**
 * The token text, shown this once, with what a user needs to use it right
 * away: the deployment and site URLs and, for an MCP token, ready client
 * configurations (mcp-remote for Claude Desktop and Claude Code) on the real
 * /mcp URL. Closing asks first until something holding the token was copied.
 */
export function OnceView({ created, onCopied, children }: { created: CreatedToken; onCopied: () => void; children?: ReactNode }) {
  const warnId = useId();
  const requestClose = useRequestClose();
  return (
    <div className="dialog-body once">
      <p id={warnId} className="notice notice-warn" role="alert">
        <strong>This is the only time this token is shown.</strong> Copy it now and keep it somewhere safe — you won't be able to see it
        again.
      </p>
      {children}
      <TokenField created={created} warnId={warnId} onCopied={onCopied} />
      <CreatedFacts created={created} />
      <UseIt created={created} onCopied={onCopied} />
      <div className="dialog-actions">
        <button type="button" className="btn btn-primary" onClick={requestClose}>
          Done
        </button>
      </div>
    </div>
  );
}

/** The token itself, selected on focus, and its Copy button; it takes the focus when shown. */
function TokenField({ created, warnId, onCopied }: { created: CreatedToken; warnId: string; onCopied: () => void }) {
  const inputId = useId();
  // The form this replaces had focus: move it to the token.
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <>
      <label htmlFor={inputId}>Your new token “{created.name}”</label>
      <div className="copy-row">
        <input
          id={inputId}
          ref={input}
          className="token-text"
          readOnly
          value={created.token}
          aria-describedby={warnId}
          spellCheck={false}
          autoComplete="off"
          onFocus={(e) => e.currentTarget.select()}
          data-autofocus
          data-testid="once-token"
        />
        <CopyButton text={created.token} label="Copy token" onCopied={onCopied} />
      </div>
    </>
  );
}

/** How to tell the new token apart, when it expires, what it may do, and the backend's warnings about its scopes. */
function CreatedFacts({ created }: { created: CreatedToken }) {
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Ends in</dt>
          <dd>
            <code>…{created.token.slice(-6)}</code> <span className="muted small">(shown in your token list to tell tokens apart)</span>
          </dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>{absoluteTime(created.expiresAt)}</dd>
        </div>
        <div>
          <dt>Scopes</dt>
          <dd>
            <ScopeChips scopes={created.scopes} />
          </dd>
        </div>
      </dl>
      {created.warnings.length > 0 ? (
        <ul className="notice notice-info">
          {created.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** "Use it": the site and Convex URLs, and for an MCP token the client configurations to copy. */
function UseIt({ created, onCopied }: { created: CreatedToken; onCopied: () => void }) {
  const config = useConfig();
  const site = useLive(api.dashboard.siteInfo, {});
  const mcpUrl = site.status === "ready" ? site.data.mcpUrl : null;
  return (
    <>
      <h3 className="section-h">Use it</h3>
      <dl className="facts">
        <div>
          <dt>Site URL</dt>
          <dd className="url-fact">
            {site.status === "ready" ? (
              <>
                <code>{site.data.siteUrl}</code>
                <CopyButton text={site.data.siteUrl} label="Copy site URL" className="btn btn-small" />
              </>
            ) : (
              <span className="muted">loading…</span>
            )}
            <span className="muted small">HTTP API and MCP endpoint</span>
          </dd>
        </div>
        <div>
          <dt>Convex URL</dt>
          <dd className="url-fact">
            <code>{config.convexUrl}</code>
            <CopyButton text={config.convexUrl} label="Copy Convex URL" className="btn btn-small" />
            <span className="muted small">
              for <code>ConvexHttpClient</code> with <code>client.setAuth(token)</code>
            </span>
          </dd>
        </div>
      </dl>
      {created.type === "MCP" && mcpUrl !== null ? (
        <div className="stack-s" data-testid="mcp-config">
          <CopyBlock label="Claude Desktop — claude_desktop_config.json (Cursor: ~/.cursor/mcp.json)" copyLabel="Copy configuration" text={claudeDesktopConfig(mcpUrl, created.token)} onCopied={onCopied} />
          <CopyBlock label="Claude Code — run in a terminal" copyLabel="Copy command" text={claudeCodeCommand(mcpUrl, created.token)} onCopied={onCopied} />
        </div>
      ) : (
        <p className="muted small">
          Or send it as <code>Authorization: Bearer …</code> to the site URL's <code>/api</code> and <code>/mcp</code>.
        </p>
      )}
    </>
  );
}
