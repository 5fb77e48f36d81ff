import { useMutation } from "convex/react";
import { useId, useMemo, useState, type FormEvent } from "react";
import { normalizeScopes, ScopeError, type ScopeEntry } from "../../../convex/model/scopes";
import { api } from "../api";
import { ScopeChips } from "../components/scopes";
import { CopyButton, Dialog, FormError, Loading } from "../components/ui";
import { describeError } from "../lib/errors";
import { useLive, useLiveMany } from "../lib/live";
import { grantablePermissions, PERMISSION_HELP, type Role } from "../lib/permissions";
import { absoluteTime, DAY_MS } from "../lib/time";

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const GLOB = /^[A-Za-z0-9_.\-/*?]{1,128}$/;
const MAX_EXPIRY_S = 365 * 86_400;

const PRESETS = [
  { id: "7d", label: "7 days", seconds: 7 * 86_400 },
  { id: "30d", label: "30 days", seconds: 30 * 86_400 },
  { id: "90d", label: "90 days", seconds: 90 * 86_400 },
  { id: "365d", label: "1 year", seconds: MAX_EXPIRY_S },
  { id: "custom", label: "Custom date", seconds: 0 },
] as const;
type PresetId = (typeof PRESETS)[number]["id"];

type Draft = { key: number; resource: string; permissions: string[]; patterns: string };

export type CreatedToken = { token: string; name: string; expiresAt: number; scopes: ScopeEntry[]; warnings: string[] };

function dateInputValue(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A date picked in the custom field expires at this time of day on that date. */
function customExpiresIn(date: string, now: number): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const at = new Date(now);
  at.setFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Math.floor((at.getTime() - now) / 1000);
}

function parsePatterns(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function CreateTokenDialog({ onClose, activeNames }: { onClose: () => void; activeNames: ReadonlySet<string> }) {
  // The token text lives only in this state; closing the dialog unmounts it.
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const close = () => {
    setCreated(null);
    onClose();
  };
  return (
    <Dialog title={created ? "Copy your new token" : "New token"} onClose={close} className="dialog-wide">
      {created ? <OnceView created={created} onDone={close} /> : <CreateForm onCreated={setCreated} onCancel={close} activeNames={activeNames} />}
    </Dialog>
  );
}

function OnceView({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const inputId = useId();
  const warnId = useId();
  return (
    <div className="dialog-body once">
      <p id={warnId} className="notice notice-warn" role="alert">
        <strong>This is the only time this token is shown.</strong> Copy it now and keep it somewhere safe — you won't be able to see it
        again.
      </p>
      <label htmlFor={inputId}>Your new token “{created.name}”</label>
      <div className="copy-row">
        <input
          id={inputId}
          className="token-text"
          readOnly
          value={created.token}
          aria-describedby={warnId}
          spellCheck={false}
          autoComplete="off"
          onFocus={(e) => e.currentTarget.select()}
          autoFocus
          data-testid="once-token"
        />
        <CopyButton text={created.token} label="Copy token" />
      </div>
      <dl className="facts">
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
      <p className="muted small">
        Use it with <code>client.setAuth(token)</code> on a <code>ConvexHttpClient</code>, or as <code>Authorization: Bearer …</code>.
      </p>
      <div className="dialog-actions">
        <button type="button" className="btn btn-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function CreateForm({
  onCreated,
  onCancel,
  activeNames,
}: {
  onCreated: (c: CreatedToken) => void;
  onCancel: () => void;
  activeNames: ReadonlySet<string>;
}) {
  const createToken = useMutation(api.auth.createApiToken);
  const orgs = useLive(api.orgs.listMine, {});
  const orgList = orgs.status === "ready" ? orgs.data : [];
  const workspaceQueries = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, { org: o.slug }])), [orgList]);
  const workspaces = useLiveMany(api.workspaces.list, workspaceQueries);
  const roles: Record<string, Role> = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, o.role as Role])), [orgList]);

  const [name, setName] = useState("");
  const [type, setType] = useState<"PAT" | "MCP">("PAT");
  const [description, setDescription] = useState("");
  const [preset, setPreset] = useState<PresetId>("30d");
  const [customDate, setCustomDate] = useState(() => dateInputValue(Date.now() + 30 * DAY_MS));
  const [drafts, setDrafts] = useState<Draft[]>([]);
  const [nextKey, setNextKey] = useState(1);
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const ids = { name: useId(), type: useId(), desc: useId(), expiry: useId(), custom: useId(), nameHint: useId() };

  const now = Date.now();
  const nameError = !NAME.test(name)
    ? name.length === 0
      ? "Give the token a name."
      : "Use 1–64 letters, digits, “-” or “_”."
    : activeNames.has(name)
      ? `You already have an active token named “${name}”.`
      : null;
  const descError = description.length > 256 ? `At most 256 characters (${description.length} now).` : null;
  const expiresIn = preset === "custom" ? customExpiresIn(customDate, now) : PRESETS.find((p) => p.id === preset)!.seconds;
  const expiryError =
    expiresIn === null
      ? "Pick a date."
      : expiresIn < 60
        ? "Pick a date in the future."
        : expiresIn > MAX_EXPIRY_S
          ? "Tokens last at most one year."
          : null;

  const draftErrors = drafts.map((d, i) => {
    if (d.permissions.length === 0) return "Choose at least one permission.";
    if (drafts.findIndex((o) => o.resource === d.resource) !== i) return "This resource already has a scope above; add the permissions there.";
    const bad = parsePatterns(d.patterns).find((p) => !GLOB.test(p));
    if (bad !== undefined) return `“${bad}” is not a valid pattern: letters, digits, “_ . - /” and the wildcards * ** ?`;
    return null;
  });
  const entries: ScopeEntry[] = drafts.map((d) => {
    const e: ScopeEntry = { permissions: d.permissions };
    if (d.resource !== "") e.resource = d.resource;
    const patterns = parsePatterns(d.patterns);
    if (d.resource.includes("/") && patterns.length > 0) e.allowedMatches = patterns;
    return e;
  });
  let scopeError: string | null = null;
  if (draftErrors.every((e) => e === null)) {
    try {
      normalizeScopes(entries);
    } catch (e) {
      scopeError = e instanceof ScopeError ? e.message : String(e);
    }
  }
  const valid = !nameError && !descError && !expiryError && draftErrors.every((e) => e === null) && !scopeError;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setServerError(null);
    if (!valid || expiresIn === null) {
      // Move focus to the first invalid field.
      window.setTimeout(() => (e.target as HTMLFormElement).querySelector<HTMLElement>("[aria-invalid='true']")?.focus(), 0);
      return;
    }
    setPending(true);
    try {
      const r = await createToken({
        name,
        type,
        expiresIn,
        scopes: entries,
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      const warnings = (r as { warnings?: unknown }).warnings;
      onCreated({
        token: r.token,
        name: r.name,
        expiresAt: r.expiresAt,
        scopes: r.scopes as ScopeEntry[],
        warnings: Array.isArray(warnings) ? (warnings as string[]) : [],
      });
    } catch (err) {
      setServerError(describeError(err).message);
      setPending(false);
    }
  }

  const show = (err: string | null, touched: boolean) => (err !== null && (submitted || touched) ? err : null);
  const nameShown = show(nameError, name.length > 0);
  const descShown = show(descError, true);
  const expiryShown = show(expiryError, preset === "custom");

  const addScope = () => {
    setDrafts([...drafts, { key: nextKey, resource: orgList[0]?.slug ?? "", permissions: [], patterns: "" }]);
    setNextKey(nextKey + 1);
  };
  const update = (key: number, patch: Partial<Draft>) =>
    setDrafts(drafts.map((d) => {
      if (d.key !== key) return d;
      const next = { ...d, ...patch };
      if (patch.resource !== undefined) {
        const allowed = new Set<string>(grantablePermissions(next.resource, roles));
        next.permissions = next.permissions.filter((p) => allowed.has(p));
        if (!next.resource.includes("/")) next.patterns = "";
      }
      return next;
    }));

  return (
    <form className="dialog-body" onSubmit={submit} noValidate>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={nameShown !== null}
            aria-describedby={ids.nameHint}
            autoComplete="off"
            spellCheck={false}
            maxLength={80}
            autoFocus
          />
          <p id={ids.nameHint} className={nameShown ? "field-error" : "field-hint"}>
            {nameShown ?? "Letters, digits, “-” and “_”, e.g. ci-deploy."}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.type}>Type</label>
          <select id={ids.type} value={type} onChange={(e) => setType(e.target.value as "PAT" | "MCP")}>
            <option value="PAT">PAT — servers and scripts</option>
            <option value="MCP">MCP — an MCP client (Claude, Cursor…)</option>
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor={ids.desc}>
          Description <span className="muted">(optional)</span>
        </label>
        <input
          id={ids.desc}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          aria-invalid={descShown !== null}
          placeholder="What is this token for?"
        />
        {descShown ? <p className="field-error">{descShown}</p> : null}
      </div>
      <fieldset className="field">
        <legend>Expires after</legend>
        <div className="segmented">
          {PRESETS.map((p) => (
            <label key={p.id} className="seg">
              <input type="radio" name="expiry" value={p.id} checked={preset === p.id} onChange={() => setPreset(p.id)} />
              <span>{p.label}</span>
            </label>
          ))}
        </div>
        {preset === "custom" ? (
          <div className="field field-inline">
            <label htmlFor={ids.custom}>Expiry date</label>
            <input
              id={ids.custom}
              type="date"
              value={customDate}
              min={dateInputValue(now + DAY_MS)}
              max={dateInputValue(now + 365 * DAY_MS)}
              onChange={(e) => setCustomDate(e.target.value)}
              aria-invalid={expiryShown !== null}
            />
          </div>
        ) : null}
        {expiryShown ? (
          <p className="field-error">{expiryShown}</p>
        ) : expiresIn !== null && expiresIn >= 60 ? (
          <p className="field-hint">Expires {absoluteTime(now + expiresIn * 1000)}.</p>
        ) : null}
      </fieldset>

      <fieldset className="field scopes-field">
        <legend>Scopes</legend>
        {drafts.length === 0 ? (
          <p className="field-hint">
            No scopes: the token can do <strong>everything your roles allow</strong>, except getting tokens from your
            OAuth connections (<code>connections:use</code>), which it gets only when a scope names it. Add a scope to
            narrow it.
          </p>
        ) : null}
        {orgs.status === "loading" ? <Loading label="Loading your organizations…" /> : null}
        {drafts.map((d, i) => (
          <ScopeRow
            key={d.key}
            index={i}
            draft={d}
            error={submitted || d.permissions.length > 0 ? draftErrors[i] : null}
            orgs={orgList}
            workspaces={Object.fromEntries(
              Object.entries(workspaces).map(([org, w]) => [org, w.status === "ready" ? w.data.map((x) => x.slug) : []]),
            )}
            roles={roles}
            onChange={(patch) => update(d.key, patch)}
            onRemove={() => setDrafts(drafts.filter((x) => x.key !== d.key))}
          />
        ))}
        {scopeError && submitted ? <p className="field-error">{scopeError}</p> : null}
        <button type="button" className="btn btn-small" onClick={addScope}>
          + Add scope
        </button>
      </fieldset>

      <FormError>{serverError}</FormError>
      {submitted && !valid ? (
        <p className="form-error" role="alert">
          Fix the highlighted fields.
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={pending}>
          {pending ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

function ScopeRow({
  index,
  draft,
  error,
  orgs,
  workspaces,
  roles,
  onChange,
  onRemove,
}: {
  index: number;
  draft: Draft;
  error: string | null;
  orgs: { slug: string; name: string; role: string }[];
  workspaces: Record<string, string[]>;
  roles: Record<string, Role>;
  onChange: (patch: Partial<Draft>) => void;
  onRemove: () => void;
}) {
  const resId = useId();
  const patId = useId();
  const patHint = useId();
  const grantable = grantablePermissions(draft.resource, roles);
  const isWorkspace = draft.resource.includes("/");
  const groups = new Map<string, string[]>();
  for (const p of grantable) {
    const area = p.split(":")[0];
    groups.set(area, [...(groups.get(area) ?? []), p]);
  }
  return (
    <div className="scope-row" role="group" aria-label={`Scope ${index + 1}`}>
      <div className="scope-row-head">
        <div className="field">
          <label htmlFor={resId}>Resource</label>
          <select id={resId} value={draft.resource} onChange={(e) => onChange({ resource: e.target.value })}>
            <option value="">All resources (every organization I'm in)</option>
            {orgs.map((o) => (
              <optgroup key={o.slug} label={`${o.name} (${o.role})`}>
                <option value={o.slug}>{o.slug} — all workspaces</option>
                {(workspaces[o.slug] ?? []).map((w) => (
                  <option key={w} value={`${o.slug}/${w}`}>
                    {o.slug}/{w}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
        </div>
        <button type="button" className="btn btn-small btn-ghost" onClick={onRemove} aria-label={`Remove scope ${index + 1}`}>
          Remove
        </button>
      </div>
      <fieldset className="perm-groups" aria-invalid={error !== null}>
        <legend className="sr-only">Permissions for {draft.resource || "all resources"}</legend>
        {grantable.length === 0 ? <p className="field-hint">Your role grants nothing here.</p> : null}
        {[...groups].map(([area, perms]) => (
          <div key={area} className="perm-group">
            <span className="perm-area">{area}</span>
            {perms.map((p) => (
              <label key={p} className="check" title={PERMISSION_HELP[p as keyof typeof PERMISSION_HELP]}>
                <input
                  type="checkbox"
                  title={PERMISSION_HELP[p as keyof typeof PERMISSION_HELP]}
                  checked={draft.permissions.includes(p)}
                  onChange={(e) =>
                    onChange({
                      permissions: e.target.checked ? [...draft.permissions, p] : draft.permissions.filter((x) => x !== p),
                    })
                  }
                />
                <span>{p}</span>
              </label>
            ))}
          </div>
        ))}
      </fieldset>
      {isWorkspace ? (
        <div className="field">
          <label htmlFor={patId}>
            Item name patterns <span className="muted">(optional)</span>
          </label>
          <input
            id={patId}
            value={draft.patterns}
            onChange={(e) => onChange({ patterns: e.target.value })}
            placeholder="Signal/*, Config/**"
            aria-describedby={patHint}
            spellCheck={false}
          />
          <p id={patHint} className="field-hint">
            Comma-separated. <code>*</code> and <code>?</code> stay within one “/” segment, <code>**</code> crosses them. Empty = every item.
          </p>
        </div>
      ) : null}
      {error ? <p className="field-error">{error}</p> : null}
    </div>
  );
}
