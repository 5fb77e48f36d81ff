import { Component, createContext, useContext, useEffect, useId, useRef, useState, type ErrorInfo, type ReactNode } from "react";
import { errorMessage } from "../lib/errors";
import { useAction } from "../lib/form";
import type { Live } from "../lib/live";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <div className="muted">{children}</div> : null}
    </div>
  );
}

/** A form's error message, announced to screen readers; nothing when there is none. */
export function FormError({ children }: { children: string | null }) {
  return children ? (
    <p className="form-error" role="alert">
      {children}
    </p>
  ) : null;
}

export function ErrorNotice({ error, title = "Couldn't load this", onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title}</p>
      <p>{errorMessage(error)}</p>
      {onRetry ? (
        <button type="button" className="btn" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Renders a live query's three states: loading, error, data. */
export function LiveView<T>({
  live,
  loadingLabel,
  errorTitle,
  children,
}: {
  live: Live<T>;
  loadingLabel?: string;
  errorTitle?: string;
  children: (data: T) => ReactNode;
}) {
  if (live.status === "loading") return <Loading label={loadingLabel} />;
  if (live.status === "error") return <ErrorNotice error={live.error} title={errorTitle} />;
  return <>{children(live.data)}</>;
}

/** A panel that fails (e.g. a paginated query throwing) shows an error, not a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode; title?: string }, { error: unknown }> {
  state: { error: unknown } = { error: null };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  componentDidCatch(_error: unknown, _info: ErrorInfo) {}
  render() {
    if (this.state.error !== null) {
      return (
        <ErrorNotice error={this.state.error} title={this.props.title} onRetry={() => this.setState({ error: null })} />
      );
    }
    return this.props.children;
  }
}

/** Where focus goes when a dialog closes and its opener is gone (e.g. a revoked row's button). */
function fallbackFocus(): HTMLElement | null {
  return document.getElementById("main");
}

/** The element a dialog focuses first: [data-autofocus], else its first field, else its first action (never ×). */
function initialFocusTarget(dialog: HTMLDialogElement): HTMLElement | null {
  return (
    dialog.querySelector<HTMLElement>("[data-autofocus]") ??
    dialog.querySelector<HTMLElement>(".dialog-body input:not([type=hidden]), .dialog-body select, .dialog-body textarea") ??
    dialog.querySelector<HTMLElement>(".dialog-actions button")
  );
}

/** Asked before a dialog with unsaved input (or an unrepeatable view) is closed. */
export type CloseGuard = { title: string; body: string; keepLabel: string; closeLabel: string };

/**
 * A modal dialog on the native <dialog>: focus moves to its first field (or
 * [data-autofocus]) and is trapped; Esc and × close it — after asking, when
 * `guard` is set; focus returns to the opener, or to the main region when the
 * opener is gone.
 */
export function Dialog({
  title,
  onClose,
  children,
  className,
  describedBy,
  guard,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  className?: string;
  describedBy?: string;
  guard?: CloseGuard | null;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [asking, setAsking] = useState(false);
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const guardRef = useRef(guard);
  guardRef.current = guard;
  const requestClose = () => (guardRef.current ? setAsking(true) : onCloseRef.current());
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    initialFocusTarget(dialog)?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener?.isConnected && opener !== document.body) opener.focus();
      // A dialog opened from inside another one leaves focus to that one; others fall back to the page.
      else if (!opener?.closest("dialog")) fallbackFocus()?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={`dialog ${className ?? ""}`}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onCancel={(e) => {
        e.preventDefault();
        requestClose();
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="btn-icon" aria-label="Close" onClick={requestClose}>
          ×
        </button>
      </div>
      <RequestClose.Provider value={requestClose}>{children}</RequestClose.Provider>
      {asking && guard ? (
        <Dialog title={guard.title} onClose={() => setAsking(false)} className="dialog-narrow">
          <div className="dialog-body">
            <p>{guard.body}</p>
          </div>
          <div className="dialog-actions">
            <button type="button" className="btn btn-primary" data-autofocus onClick={() => setAsking(false)}>
              {guard.keepLabel}
            </button>
            <button type="button" className="btn btn-danger" onClick={() => onCloseRef.current()}>
              {guard.closeLabel}
            </button>
          </div>
        </Dialog>
      ) : null}
    </dialog>
  );
}

const RequestClose = createContext<() => void>(() => {});

/** Closes the enclosing Dialog the way Esc and × do (asking first when it has a guard): for Cancel buttons. */
export function useRequestClose(): () => void {
  return useContext(RequestClose);
}

/** "Are you sure?" with the action's own pending and error states; opens on Cancel. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const { pending, error, run } = useAction();
  const bodyId = useId();
  return (
    <Dialog title={title} onClose={onClose} describedBy={bodyId} className="dialog-narrow">
      <div id={bodyId} className="dialog-body">
        {children}
      </div>
      <FormError>{error}</FormError>
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={onClose} data-autofocus>
          Cancel
        </button>
        <button
          type="button"
          className="btn btn-danger"
          disabled={pending}
          onClick={() =>
            run(async () => {
              await onConfirm();
              onClose();
            })
          }
        >
          {pending ? "Working…" : confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

export function CopyButton({
  text,
  label = "Copy",
  onCopied,
  className = "btn btn-primary",
}: {
  text: string;
  label?: string;
  onCopied?: () => void;
  className?: string;
}) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const id = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(id);
  }, [state]);
  return (
    <button
      type="button"
      className={className}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setState("copied");
          onCopied?.();
        } catch {
          setState("failed");
        }
      }}
    >
      <span aria-live="polite">{state === "copied" ? "Copied" : state === "failed" ? "Copy failed — select and copy" : label}</span>
    </button>
  );
}

export function Badge({ tone, children, title }: { tone: "ok" | "warn" | "bad" | "neutral" | "info"; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}
