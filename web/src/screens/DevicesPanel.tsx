import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useState } from "react";
import { api } from "../api";
import { Badge, ConfirmDialog, Empty, LiveView } from "../components/ui";
import { useLive } from "../lib/live";
import { ago, absoluteTime, useNow } from "../lib/time";
import { describeUserAgent } from "../lib/ua";

type Device = FunctionReturnType<typeof api.sessions.listDevices>[number];

/** One signed-in browser or tool: what it is, where from, when, and its Sign out button. */
function DeviceRow({ d, now, onSignOut }: { d: Device; now: number; onSignOut: () => void }) {
  return (
    <li className={`row${d.current ? " row-current" : ""}`} data-current={d.current ? "true" : "false"}>
      <div className="row-main">
        <div>
          <strong title={d.userAgent}>{describeUserAgent(d.userAgent)}</strong>{" "}
          {d.current ? <Badge tone="info">This device</Badge> : null}
        </div>
        <div className="muted small">
          {d.ipAddress ? `${d.ipAddress} · ` : ""}Signed in{" "}
          <time title={absoluteTime(d.createdAt)}>{ago(d.createdAt, now)}</time> · Last active{" "}
          <time title={absoluteTime(d.lastActiveAt)}>{ago(d.lastActiveAt, now)}</time>
        </div>
      </div>
      {d.current ? null : (
        <button
          type="button"
          className="btn btn-small"
          onClick={onSignOut}
          aria-label={`Sign out ${describeUserAgent(d.userAgent)} signed in ${ago(d.createdAt, now)}`}
        >
          Sign out
        </button>
      )}
    </li>
  );
}

export function DevicesPanel() {
  const devices = useLive(api.sessions.listDevices, {});
  const signOutDevice = useMutation(api.sessions.signOutDevice);
  const signOutOthers = useMutation(api.sessions.signOutOtherDevices);
  const [confirm, setConfirm] = useState<{ kind: "one"; d: Device } | { kind: "others"; count: number } | null>(null);
  const now = useNow();

  return (
    <section aria-labelledby="devices-h">
      <LiveView live={devices} loadingLabel="Loading devices…" errorTitle="Couldn't load your devices">
        {(list) => {
          const others = list.filter((d) => !d.current);
          const sorted = [...list].sort((a, b) => Number(b.current) - Number(a.current) || b.lastActiveAt - a.lastActiveAt);
          return (
            <>
              <div className="panel-head">
                <div>
                  <h1 id="devices-h">Devices</h1>
                  <p className="muted">Browsers and tools signed in to your account.</p>
                </div>
                <button
                  type="button"
                  className="btn btn-danger-outline"
                  disabled={others.length === 0}
                  onClick={() => setConfirm({ kind: "others", count: others.length })}
                >
                  Sign out all other devices
                </button>
              </div>
              {list.length === 0 ? (
                <Empty title="No devices recorded yet" />
              ) : (
                <ul className="rows card">
                  {sorted.map((d) => (
                    <DeviceRow key={d._id} d={d} now={now} onSignOut={() => setConfirm({ kind: "one", d })} />
                  ))}
                </ul>
              )}
              {list.length > 0 && others.length === 0 ? <p className="muted small">No other devices are signed in.</p> : null}
            </>
          );
        }}
      </LiveView>
      {confirm?.kind === "one" ? (
        <ConfirmDialog
          title="Sign out this device?"
          confirmLabel="Sign out device"
          onConfirm={() => signOutDevice({ authSessionId: confirm.d.authSessionId })}
          onClose={() => setConfirm(null)}
        >
          <p>
            {describeUserAgent(confirm.d.userAgent)}
            {confirm.d.ipAddress ? ` (${confirm.d.ipAddress})` : ""} is signed out on its next request.
          </p>
        </ConfirmDialog>
      ) : null}
      {confirm?.kind === "others" ? (
        <ConfirmDialog
          title="Sign out all other devices?"
          confirmLabel={`Sign out ${confirm.count} device${confirm.count === 1 ? "" : "s"}`}
          onConfirm={() => signOutOthers({})}
          onClose={() => setConfirm(null)}
        >
          <p>Every other browser and tool signed in to your account is signed out on its next request. This device stays signed in.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
