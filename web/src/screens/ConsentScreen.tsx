import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useEffect, useId, useMemo, useState } from "react";
import { api } from "../api";
import { Badge, FormError, LiveView } from "../components/ui";
import { errorMessage } from "../lib/errors";
import { useLive } from "../lib/live";
import { PERMISSION_DESCRIPTIONS, PERSONAL_PERMISSIONS, type Permission } from "../lib/permissions";

type Request = FunctionReturnType<typeof api.oauthServer.consentRequest>;

/** The request id of the consent URL (`/consent?request=…`, routed as `?request=…#/consent`). */
export function consentRequestId(): string | null {
  return new URLSearchParams(window.location.search).get("request");
}

/** Where the app may act: "" = all my organizations, else "org" or "org/workspace". */
function places(r: Request): { value: string; label: string }[] {
  const out = [{ value: "", label: "All my organizations" }];
  for (const o of r.orgs) {
    out.push({ value: o.slug, label: `${o.name} (${o.slug}) — all workspaces · you are ${o.role}` });
    for (const w of o.workspaces) out.push({ value: `${o.slug}/${w.slug}`, label: `${o.slug}/${w.slug} — ${w.name}` });
  }
  return out;
}

/** The requested permissions the person may grant at `place` (never beyond their role there). */
function grantableAt(r: Request, place: string): Set<string> {
  if (place === "") return new Set(r.orgs.flatMap((o) => o.grantable).concat(PERSONAL));
  const org = r.orgs.find((o) => o.slug === place.split("/")[0]);
  return new Set(org ? org.grantable : PERSONAL);
}
/** What anyone may grant on their own account, whatever their organization roles. */
const PERSONAL: string[] = [...PERSONAL_PERMISSIONS];

export function ConsentScreen({ requestId }: { requestId: string }) {
  // Once answered, the request is gone (the live query would turn into an
  // error): show where the browser is going instead. An app with its own
  // scheme (cursor://…) opens without this page navigating away.
  const [leaving, setLeaving] = useState<{ to: string; approved: boolean } | null>(null);
  const live = useLive(api.oauthServer.consentRequest, leaving ? "skip" : { request: requestId });
  useEffect(() => {
    document.title = "Connect an app · keyhole";
  }, []);
  return (
    <main className="auth">
      <div className="auth-card consent-card">
        <p className="brand brand-lg" aria-hidden="true">
          <span className="brand-mark" /> keyhole
        </p>
        {leaving ? (
          <div role="status">
            <h1>{leaving.approved ? "Access allowed" : "Access denied"}</h1>
            <p>
              Returning to the app… If nothing happens, <a href={leaving.to}>continue</a>, or close this window.
            </p>
          </div>
        ) : (
          <LiveView live={live} loadingLabel="Loading the request…" errorTitle="This request can't be shown">
            {(r) => <ConsentForm r={r} requestId={requestId} onDecided={setLeaving} />}
          </LiveView>
        )}
      </div>
    </main>
  );
}

/** The decision call: which button is pending, its error, and submit(approve) that leaves for the app. */
function useConsentDecision(requestId: string, onDecided: (d: { to: string; approved: boolean }) => void) {
  const decide = useMutation(api.oauthServer.decideConsent);
  const [pending, setPending] = useState<"approve" | "deny" | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function submit(approve: boolean, resource: string | null, permissions: Permission[]) {
    setPending(approve ? "approve" : "deny");
    setError(null);
    try {
      const { redirectTo } = await decide({ request: requestId, approve, resource, permissions: approve ? permissions : [] });
      onDecided({ to: redirectTo, approved: approve });
      window.location.assign(redirectTo);
    } catch (e) {
      setError(errorMessage(e));
      setPending(null);
    }
  }
  return { pending, error, submit };
}

/** Who is asking (verified by its published identity, or self-registered) and where the browser goes afterwards. */
function ClientFacts({ r }: { r: Request }) {
  return (
    <dl className="facts">
      <dt>Who is asking</dt>
      <dd>
        {r.client.kind === "cimd" ? (
          <>
            <Badge tone="ok">verified</Badge> identity published at <strong className="mono">{r.client.host}</strong>
          </>
        ) : (
          <>
            <Badge tone="warn">unverified</Badge> this app registered itself: continue only if you just started connecting it
          </>
        )}
      </dd>
      <dt>Afterwards you go to</dt>
      <dd>
        <span className="mono">{r.redirectUri}</span>
        {r.redirectLocal ? <span className="muted"> (a program on this computer)</span> : null}
      </dd>
    </dl>
  );
}

/** One checkbox per requested permission; those the person's role here does not allow are disabled. */
function PermissionChoices({
  requested,
  grantable,
  unchecked,
  onChange,
}: {
  requested: string[];
  grantable: Set<string>;
  unchecked: Set<string>;
  onChange: (unchecked: Set<string>) => void;
}) {
  return (
    <fieldset className="field">
      <legend>What it may do</legend>
      <ul className="consent-perms">
        {requested.map((p) => {
          const allowed = grantable.has(p);
          return (
            <li key={p}>
              <label className={allowed ? "" : "muted"}>
                <input
                  type="checkbox"
                  name={p}
                  disabled={!allowed}
                  checked={allowed && !unchecked.has(p)}
                  onChange={(e) => {
                    const next = new Set(unchecked);
                    if (e.target.checked) next.delete(p);
                    else next.add(p);
                    onChange(next);
                  }}
                />{" "}
                {PERMISSION_DESCRIPTIONS[p as Permission] ?? p} <span className="mono small muted">{p}</span>
                {allowed ? null : <span className="small"> — your role here does not allow this</span>}
              </label>
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}

function ConsentForm({
  r,
  requestId,
  onDecided,
}: {
  r: Request;
  requestId: string;
  onDecided: (d: { to: string; approved: boolean }) => void;
}) {
  const options = useMemo(() => places(r), [r]);
  const [place, setPlace] = useState(options.length > 1 ? options[1].value : "");
  const grantable = grantableAt(r, place);
  const [unchecked, setUnchecked] = useState<Set<string>>(new Set());
  const chosen = r.requested.filter((p) => grantable.has(p) && !unchecked.has(p));
  const { pending, error, submit } = useConsentDecision(requestId, onDecided);
  const answer = (approve: boolean) => void submit(approve, place === "" ? null : place, chosen as Permission[]);
  const placeId = useId();

  return (
    <form
      className="consent"
      onSubmit={(e) => {
        e.preventDefault();
        answer(true);
      }}
    >
      <h1>Allow {r.client.name} to use keyhole?</h1>
      <p>
        It asks to use <strong>{r.resourceName}</strong> as you, with the permissions you choose below.
      </p>
      <ClientFacts r={r} />
      <div className="field">
        <label htmlFor={placeId}>Where it may act</label>
        <select id={placeId} value={place} onChange={(e) => setPlace(e.target.value)}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <PermissionChoices requested={r.requested} grantable={grantable} unchecked={unchecked} onChange={setUnchecked} />
      <p className="muted small">
        Access lasts until you disconnect the app under <strong>Connected apps</strong> (at most 30 days).
      </p>
      <FormError>{error}</FormError>
      <div className="dialog-actions">
        <button type="button" className="btn" disabled={pending !== null} onClick={() => answer(false)}>
          {pending === "deny" ? "Returning…" : "Deny"}
        </button>
        <button type="submit" className="btn btn-primary" disabled={pending !== null || chosen.length === 0}>
          {pending === "approve" ? "Returning to the app…" : "Allow"}
        </button>
      </div>
    </form>
  );
}
