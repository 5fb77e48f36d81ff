/**
 * Webhooks: your endpoints (this tab) or an org's (on the org admin screen).
 * The signing secret is shown once at creation; each endpoint has a live
 * delivery log with every attempt.
 */
import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useId, useState } from "react";
import { WEBHOOK_EVENT_TYPES } from "../../../convex/model/governance/validators";
import { api } from "../api";
import { DataTable } from "../components/fields";
import { Badge, ConfirmDialog, CopyButton, Empty, FormError, LiveView } from "../components/ui";
import { useFormSubmit } from "../lib/form";
import { useLive } from "../lib/live";
import { absoluteTime, ago, relativeTime, useNow } from "../lib/time";

type Endpoint = FunctionReturnType<typeof api.webhooks.list>[number];

const EVENT_HINTS: Record<(typeof WEBHOOK_EVENT_TYPES)[number], string> = {
  "token.expiring": "7 days before a token expires",
  "token.expired": "a token has expired",
  "token.revoked": "a token was revoked",
  "token.leak_reported": "someone reported a token as leaked",
  "session.reuse_detected": "a refresh token was replayed",
  "org.token_revoked": "an org admin revoked a token",
};

export function WebhooksPanel() {
  return (
    <section aria-labelledby="hooks-h">
      <div className="panel-head">
        <div>
          <h1 id="hooks-h">Webhooks</h1>
          <p className="muted">
            Events about your tokens and sessions, POSTed to your endpoint and signed per{" "}
            <a href="https://www.standardwebhooks.com" rel="noreferrer" target="_blank">
              Standard Webhooks
            </a>
            . Failed deliveries are retried with backoff.
          </p>
        </div>
      </div>
      <WebhookEndpoints />
    </section>
  );
}

/** The endpoints of the signed-in person, or of `org` (owners and admins). */
export function WebhookEndpoints({ org }: { org?: string }) {
  const endpoints = useLive(api.webhooks.list, org ? { org } : {});
  const remove = useMutation(api.webhooks.remove);
  const [removing, setRemoving] = useState<Endpoint | null>(null);
  return (
    <div className="stack">
      <LiveView live={endpoints} loadingLabel="Loading endpoints…" errorTitle="Couldn't load webhook endpoints">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No endpoints yet" />
          ) : (
            <ul className="rows" aria-label="Webhook endpoints">
              {list.map((e) => (
                <EndpointRow key={e._id} e={e} onRemove={() => setRemoving(e)} />
              ))}
            </ul>
          )
        }
      </LiveView>
      <NewEndpoint org={org} />
      {removing ? (
        <ConfirmDialog
          title="Remove this endpoint?"
          confirmLabel="Remove endpoint"
          onConfirm={() => remove({ endpointId: removing._id })}
          onClose={() => setRemoving(null)}
        >
          <p>
            <code className="wrap">{removing.url}</code> gets no more events.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function EndpointRow({ e, onRemove }: { e: Endpoint; onRemove: () => void }) {
  const [open, setOpen] = useState(false);
  const sendTest = useMutation(api.webhooks.sendTest);
  const logId = useId();
  return (
    <li className="row row-wrap" data-endpoint-url={e.url}>
      <div className="row-main">
        <div>
          <code className="wrap">{e.url}</code>
        </div>
        <div className="muted small">
          {e.description ? `${e.description} · ` : ""}
          {e.eventTypes.join(", ")}
        </div>
      </div>
      <button type="button" className="btn btn-small" aria-expanded={open} aria-controls={logId} onClick={() => setOpen(!open)}>
        {open ? "Hide deliveries" : "Deliveries"}
      </button>
      <button type="button" className="btn btn-small" onClick={() => void sendTest({ endpointId: e._id })}>
        Send test
      </button>
      <button type="button" className="btn btn-small btn-ghost" onClick={onRemove}>
        Remove
      </button>
      {open ? (
        <div id={logId} className="delivery-log">
          <DeliveryLog endpointId={e._id} />
        </div>
      ) : null}
    </li>
  );
}

function DeliveryLog({ endpointId }: { endpointId: Endpoint["_id"] }) {
  const log = useLive(api.webhooks.listDeliveries, { endpointId });
  const now = useNow();
  return (
    <LiveView live={log} loadingLabel="Loading deliveries…" errorTitle="Couldn't load the delivery log">
      {(list) =>
        list.length === 0 ? (
          <p className="muted small">No deliveries yet.</p>
        ) : (
          <DataTable className="table" caption="Deliveries" columns={["Event", "Status", "Attempts", "Created"]} wrap={false}>
            {list.map((d) => (
              <tr key={d._id} data-delivery-status={d.status}>
                <td data-label="Event">
                  <code>{d.eventType}</code>
                </td>
                <td data-label="Status">
                  <Badge tone={d.status === "delivered" ? "ok" : d.status === "failed" ? "bad" : "warn"}>{d.status}</Badge>
                  {d.nextAttemptAt ? <span className="muted small"> next {relativeTime(d.nextAttemptAt, now)}</span> : null}
                </td>
                <td data-label="Attempts" className="small">
                  {d.attempts.map((a, i) => (
                    <span key={i} title={`${absoluteTime(a.at)} · ${a.durationMs} ms${a.error ? ` · ${a.error}` : ""}`}>
                      {i > 0 ? " → " : ""}
                      {a.status ?? "no answer"}
                    </span>
                  ))}
                </td>
                <td data-label="Created">{ago(d.createdAt, now)}</td>
              </tr>
            ))}
          </DataTable>
        )
      }
    </LiveView>
  );
}

function NewEndpoint({ org }: { org?: string }) {
  const create = useMutation(api.webhooks.create);
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<Set<string>>(() => new Set(org ? ["org.token_revoked", "token.revoked"] : WEBHOOK_EVENT_TYPES));
  const [secret, setSecret] = useState<string | null>(null);
  const ids = { url: useId(), events: useId() };
  const urlInvalid = !/^https?:\/\/\S+$/.test(url.trim());
  const { submitted, pending, error, onSubmit } = useFormSubmit(urlInvalid || types.size === 0, async () => {
    const r = await create({ url: url.trim(), eventTypes: [...types], ...(org ? { org } : {}) });
    setSecret(r.secret);
    setUrl("");
  });
  return (
    <form className="card form-card" onSubmit={onSubmit} noValidate>
      <div className="field">
        <label htmlFor={ids.url}>Endpoint URL</label>
        <input id={ids.url} value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/keyhole-events" aria-invalid={submitted && urlInvalid} />
        {submitted && urlInvalid ? <p className="field-error">Enter an https:// URL.</p> : null}
      </div>
      <fieldset className="field">
        <legend id={ids.events}>Events</legend>
        {WEBHOOK_EVENT_TYPES.map((t) => (
          <label key={t} className="field-inline small">
            <input
              type="checkbox"
              checked={types.has(t)}
              onChange={(e) => {
                const next = new Set(types);
                if (e.target.checked) next.add(t);
                else next.delete(t);
                setTypes(next);
              }}
            />
            <code>{t}</code> <span className="muted">{EVENT_HINTS[t]}</span>
          </label>
        ))}
        {submitted && types.size === 0 ? <p className="field-error">Pick at least one event.</p> : null}
      </fieldset>
      <FormError>{error}</FormError>
      <button type="submit" className="btn" disabled={pending}>
        {pending ? "Adding…" : "Add endpoint"}
      </button>
      {secret ? (
        <div className="notice notice-info" role="status" data-webhook-secret>
          <p>Signing secret — verify every delivery with it. It is shown only now.</p>
          <p>
            <code className="wrap">{secret}</code>
          </p>
          <CopyButton text={secret} label="Copy secret" />{" "}
          <button type="button" className="btn btn-small btn-ghost" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      ) : null}
    </form>
  );
}
