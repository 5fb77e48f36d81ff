/**
 * `#/invite?code=khi_…`: the invitation link. The code rides in the URL
 * fragment, which the browser never sends to a server; it is taken out of
 * the address bar as soon as the page has read it.
 */
import { useMutation } from "convex/react";
import { useState } from "react";
import { api } from "../api";
import { FormError } from "../components/ui";
import { useAction } from "../lib/form";

/** The code in an invitation link's fragment, or null. */
export function inviteCodeFromHash(hash: string): string | null {
  const m = /^#\/?invite\?(.*)$/.exec(hash);
  if (!m) return null;
  const code = new URLSearchParams(m[1]).get("code");
  return code && code.startsWith("khi_") ? code : null;
}

export function AcceptInvite({ code, onDone }: { code: string; onDone: () => void }) {
  const accept = useMutation(api.orgs.acceptInvite);
  const { pending, error, run } = useAction();
  const [joined, setJoined] = useState<{ org: string; orgName: string; role: string } | null>(null);
  return (
    <section aria-labelledby="invite-h" className="card">
      <h1 id="invite-h">Invitation</h1>
      {joined ? (
        <p role="status">
          You joined <strong>{joined.orgName}</strong> ({joined.org}) as {joined.role}.
        </p>
      ) : (
        <p>You were invited to an organization. Accepting adds this account to it; the link then stops working.</p>
      )}
      <FormError>{error}</FormError>
      <p>
        {joined ? (
          <button type="button" className="btn btn-primary" onClick={onDone}>
            Go to organizations
          </button>
        ) : (
          <>
            <button
              type="button"
              className="btn btn-primary"
              disabled={pending}
              onClick={() => run(async () => setJoined(await accept({ code })))}
            >
              {pending ? "Joining…" : "Accept invitation"}
            </button>{" "}
            <button type="button" className="btn btn-ghost" onClick={onDone}>
              Not now
            </button>
          </>
        )}
      </p>
    </section>
  );
}
