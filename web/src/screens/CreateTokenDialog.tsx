import { useMutation } from "convex/react";
import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { normalizeScopes, ScopeError, type ScopeEntry } from "../../../shared/scopes";
import { api } from "../api";
import { Dialog, FormError, Loading, useRequestClose, type CloseGuard } from "../components/ui";
import { describeError } from "../lib/errors";
import { useLive, useLiveMany } from "../lib/live";
import { grantablePermissions as grantableFor, type Role } from "../lib/permissions";
import { absoluteTime, DAY_MS } from "../lib/time";
import { ONCE_GUARD, OnceView, type CreatedToken } from "./OnceView";
import { ScopeEditor, type Draft } from "./ScopeEditor";

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

type Access = "selected" | "full";

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

const FORM_GUARD: CloseGuard = {
  title: "Discard this new token?",
  body: "What you entered will be lost.",
  keepLabel: "Keep editing",
  closeLabel: "Discard",
};
export function CreateTokenDialog({ onClose, activeNames }: { onClose: () => void; activeNames: ReadonlySet<string> }) {
  // The token text lives only in this state; closing the dialog unmounts it.
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [dirty, setDirty] = useState(false);
  const [copied, setCopied] = useState(false);
  const close = () => {
    setCreated(null);
    onClose();
  };
  const guard = created ? (copied ? null : ONCE_GUARD) : dirty ? FORM_GUARD : null;
  return (
    <Dialog title={created ? "Copy your new token" : "New token"} onClose={close} className="dialog-wide" guard={guard}>
      {created ? (
        <OnceView created={created} onCopied={() => setCopied(true)} />
      ) : (
        <CreateForm onCreated={setCreated} onDirty={setDirty} activeNames={activeNames} />
      )}
    </Dialog>
  );
}

function defaultResource(orgs: { slug: string }[], workspaces: Record<string, string[]>): string {
  const org = orgs[0]?.slug;
  if (org === undefined) return "";
  const ws = workspaces[org]?.[0];
  return ws === undefined ? org : `${org}/${ws}`;
}

function CreateForm({
  onCreated,
  onDirty,
  activeNames,
}: {
  onCreated: (c: CreatedToken) => void;
  onDirty: (dirty: boolean) => void;
  activeNames: ReadonlySet<string>;
}) {
  const createToken = useMutation(api.auth.createApiToken);
  const requestClose = useRequestClose();
  const orgs = useLive(api.orgs.listMine, {});
  const orgList = useMemo(() => (orgs.status === "ready" ? orgs.data : []), [orgs]);
  const workspaceQueries = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, { org: o.slug }])), [orgList]);
  const liveWorkspaces = useLiveMany(api.workspaces.list, workspaceQueries);
  const workspaces: Record<string, string[]> = Object.fromEntries(
    Object.entries(liveWorkspaces).map(([org, w]) => [org, w.status === "ready" ? w.data.map((x) => x.slug) : []]),
  );
  const roles: Record<string, Role> = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, o.role as Role])), [orgList]);

  const [name, setName] = useState("");
  const [type, setType] = useState<"PAT" | "MCP">("PAT");
  const [description, setDescription] = useState("");
  const [preset, setPreset] = useState<PresetId>("30d");
  const [customDate, setCustomDate] = useState(() => dateInputValue(Date.now() + 30 * DAY_MS));
  const [access, setAccess] = useState<Access>("selected");
  // One row to start from, with nothing checked: no access until chosen (like GitHub's fine-grained tokens).
  const [drafts, setDrafts] = useState<Draft[]>([{ key: 0, resource: "", permissions: [], patterns: "" }]);
  const [touchedResource, setTouchedResource] = useState(false);
  const [nextKey, setNextKey] = useState(1);
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const ids = { name: useId(), type: useId(), desc: useId(), custom: useId(), nameHint: useId(), typeHint: useId(), fullWarn: useId() };

  // Until the person picks one, the first row points at their first workspace (the narrowest useful tier).
  const rows =
    !touchedResource && drafts.length === 1 && drafts[0].key === 0 ? [{ ...drafts[0], resource: defaultResource(orgList, workspaces) }] : drafts;

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
    expiresIn === null ? "Pick a date." : expiresIn < 60 ? "Pick a date in the future." : expiresIn > MAX_EXPIRY_S ? "Tokens last at most one year." : null;

  const scoped = access === "selected";
  const draftErrors = rows.map((d, i) => {
    if (d.permissions.length === 0) return "Choose at least one permission, or remove this scope.";
    if (rows.findIndex((o) => o.resource === d.resource) !== i) return "This resource already has a scope above; add the permissions there.";
    const bad = parsePatterns(d.patterns).find((p) => !GLOB.test(p));
    if (bad !== undefined) return `“${bad}” is not a valid pattern: letters, digits, “_ . - /” and the wildcards * ** ?`;
    return null;
  });
  const entries: ScopeEntry[] = rows.map((d) => {
    const e: ScopeEntry = { permissions: d.permissions };
    if (d.resource !== "") e.resource = d.resource;
    const patterns = parsePatterns(d.patterns);
    if (d.resource.includes("/") && patterns.length > 0) e.allowedMatches = patterns;
    return e;
  });
  let scopeError: string | null = scoped && rows.length === 0 ? "Add a scope, or choose “Everything my roles allow”." : null;
  if (scoped && scopeError === null && draftErrors.every((e) => e === null)) {
    try {
      normalizeScopes(entries);
    } catch (e) {
      scopeError = e instanceof ScopeError ? e.message : String(e);
    }
  }
  const scopesValid = !scoped || (scopeError === null && draftErrors.every((e) => e === null));
  const valid = !nameError && !descError && !expiryError && scopesValid;
  const dirty = name !== "" || description !== "" || rows.some((d) => d.permissions.length > 0) || access === "full";
  useEffectOnChange(dirty, onDirty);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setServerError(null);
    if (!valid || expiresIn === null) {
      // Focus the first invalid field.
      const form = e.target as HTMLFormElement;
      window.setTimeout(() => form.querySelector<HTMLElement>("[aria-invalid='true']")?.focus(), 0);
      return;
    }
    setPending(true);
    try {
      const r = await createToken({
        name,
        type,
        expiresIn,
        scopes: scoped ? entries : [],
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      onCreated({ token: r.token, name: r.name, type, expiresAt: r.expiresAt, scopes: r.scopes as ScopeEntry[], warnings: r.warnings ?? [] });
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
    setTouchedResource(true);
    setDrafts([...rows, { key: nextKey, resource: defaultResource(orgList, workspaces), permissions: [], patterns: "" }]);
    setNextKey(nextKey + 1);
  };
  const update = (key: number, patch: Partial<Draft>) => {
    setTouchedResource(true);
    setDrafts(
      rows.map((d) => {
        if (d.key !== key) return d;
        const next = { ...d, ...patch };
        if (patch.resource !== undefined) {
          const allowed = new Set<string>(grantableFor(next.resource, roles));
          next.permissions = next.permissions.filter((p) => allowed.has(p));
          if (!next.resource.includes("/")) next.patterns = "";
        }
        return next;
      }),
    );
  };

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
            data-autofocus
          />
          <p id={ids.nameHint} className={nameShown ? "field-error" : "field-hint"}>
            {nameShown ?? "Letters, digits, “-” and “_”, e.g. ci-deploy."}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.type}>Type</label>
          <select id={ids.type} value={type} aria-describedby={ids.typeHint} onChange={(e) => setType(e.target.value as "PAT" | "MCP")}>
            <option value="PAT">PAT — servers and scripts</option>
            <option value="MCP">MCP — an MCP client (Claude, Cursor…)</option>
          </select>
          <p id={ids.typeHint} className="field-hint">
            {type === "MCP" ? "You'll get a ready configuration for Claude Desktop and Claude Code." : "A label; both types work everywhere."}
          </p>
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
        <legend>What can this token do?</legend>
        <div className="choices">
          <label className="choice">
            <input type="radio" name="access" value="selected" checked={scoped} onChange={() => setAccess("selected")} />
            <span>
              <strong>Only the permissions I choose</strong>
              <span className="muted small"> — recommended: it starts with no access; add what it needs below.</span>
            </span>
          </label>
          <label className="choice">
            <input type="radio" name="access" value="full" checked={!scoped} onChange={() => setAccess("full")} aria-describedby={!scoped ? ids.fullWarn : undefined} />
            <span>
              <strong>Everything my roles allow</strong>
              <span className="muted small"> — full role, in every organization, including roles you get later.</span>
            </span>
          </label>
        </div>
        {orgs.status === "loading" ? <Loading label="Loading your organizations…" /> : null}
        {scoped ? (
          <ScopeEditor
            drafts={rows}
            errors={rows.map((d, i) => (submitted || d.permissions.length > 0 ? draftErrors[i] : null))}
            orgs={orgList}
            workspaces={workspaces}
            roles={roles}
            onChange={update}
            onAdd={addScope}
            onRemove={(key) => {
              setTouchedResource(true);
              setDrafts(rows.filter((x) => x.key !== key));
            }}
          />
        ) : (
          <p id={ids.fullWarn} className="notice notice-warn">
            This token can do <strong>everything you can</strong>, wherever your roles allow it — except getting tokens from your OAuth
            connections (<code>connections:use</code>), which a token gets only when a scope names it. Prefer a narrower token if it leaks
            easily (CI logs, shared machines, agents).
          </p>
        )}
        {scopeError && submitted ? <p className="field-error">{scopeError}</p> : null}
      </fieldset>

      <FormError>{serverError}</FormError>
      {submitted && !valid ? (
        <p className="form-error" role="alert">
          Fix the highlighted fields.
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={requestClose}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={pending}>
          {pending ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

/** Calls `f(value)` whenever `value` changes (after render). */
function useEffectOnChange<T>(value: T, f: (v: T) => void) {
  useEffect(() => f(value), [value, f]);
}
