/**
 * Notices above every tab: a token expires within 7 days or has expired, an
 * org admin revoked one of your tokens, one was revoked for sitting unused.
 * Live; each can be dismissed.
 */
import { useMutation } from "convex/react";
import { api } from "../api";
import { useLive } from "../lib/live";

export function NoticesBar() {
  const notices = useLive(api.notices.list, {});
  const dismiss = useMutation(api.notices.dismiss);
  if (notices.status !== "ready" || notices.data.length === 0) return null;
  return (
    <ul className="notices" aria-label="Notices">
      {notices.data.map((n) => (
        <li key={n._id} className={`notice ${n.kind === "token.expiring" ? "notice-warn" : "notice-bad"}`} data-notice-kind={n.kind}>
          <span>{n.message}</span>
          <button type="button" className="btn btn-small btn-ghost" onClick={() => void dismiss({ noticeId: n._id })} aria-label={`Dismiss: ${n.message}`}>
            Dismiss
          </button>
        </li>
      ))}
    </ul>
  );
}
