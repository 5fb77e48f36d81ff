import { useMutation } from "convex/react";
import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { MAX_EXPIRES_IN_S, MIN_EXPIRES_IN_S } from "../../../shared/tokens";
import { api } from "../api";
import { Segmented, TokenNameField } from "../components/fields";
import { Dialog, FormError, Loading, useRequestClose, type CloseGuard } from "../components/ui";
import { describeError } from "../lib/errors";
import { useLive, useLiveMany } from "../lib/live";
import { grantablePermissions as grantableFor, type Role } from "../lib/permissions";
import { absoluteTime, DAY_MS } from "../lib/time";
import { checkTokenForm, entriesOf, type Draft } from "../lib/tokenForm";
import { ONCE_GUARD, OnceView, type CreatedToken } from "./OnceView";
import { ScopeEditor } from "./ScopeEditor";

const PRESETS = [
  { id: "7d", label: "7 days", seconds: 7 * 86_400 },
  { id: "30d", label: "30 days", seconds: 30 * 86_400 },
  { id: "90d", label: "90 days", seconds: 90 * 86_400 },
  { id: "365d", label: "1 year", seconds: MAX_EXPIRES_IN_S },
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

/** My organizations, their workspaces and my role in each: what the scope rows may name. */
function useScopeChoices() {
  const orgs = useLive(api.orgs.listMine, {});
  const orgList = useMemo(() => (orgs.status === "ready" ? orgs.data : []), [orgs]);
  const workspaceQueries = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, { org: o.slug }])), [orgList]);
  const liveWorkspaces = useLiveMany(api.workspaces.list, workspaceQueries);
  const workspaces: Record<string, string[]> = Object.fromEntries(
    Object.entries(liveWorkspaces).map(([org, w]) => [org, w.status === "ready" ? w.data.map((x) => x.slug) : []]),
  );
  const roles: Record<string, Role> = useMemo(() => Object.fromEntries(orgList.map((o) => [o.slug, o.role as Role])), [orgList]);
  return { loading: orgs.status === "loading", orgList, workspaces, roles };
}

type ScopeChoices = ReturnType<typeof useScopeChoices>;

/** The scope rows: add, change (dropping permissions the new resource cannot have), remove. */
function useScopeRows({ orgList, workspaces, roles }: ScopeChoices) {
  // One row to start from, with nothing checked: no access until chosen (like GitHub's fine-grained tokens).
  const [drafts, setDrafts] = useState<Draft[]>([{ key: 0, resource: "", permissions: [], patterns: "" }]);
  const [touched, setTouched] = useState(false);
  const [nextKey, setNextKey] = useState(1);
  // Until the person picks one, the first row points at their first workspace (the narrowest useful tier).
  const rows = !touched && drafts.length === 1 && drafts[0].key === 0 ? [{ ...drafts[0], resource: defaultResource(orgList, workspaces) }] : drafts;
  const change = (next: Draft[]) => {
    setTouched(true);
    setDrafts(next);
  };
  const add = () => {
    change([...rows, { key: nextKey, resource: defaultResource(orgList, workspaces), permissions: [], patterns: "" }]);
    setNextKey(nextKey + 1);
  };
  const update = (key: number, patch: Partial<Draft>) =>
    change(
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
  const remove = (key: number) => change(rows.filter((x) => x.key !== key));
  return { rows, add, update, remove };
}

/** The expiry choice: a preset or a custom date, and the seconds from now it comes to (null: no date picked). */
function useExpiry() {
  const [preset, setPreset] = useState<PresetId>("30d");
  const [customDate, setCustomDate] = useState(() => dateInputValue(Date.now() + 30 * DAY_MS));
  const now = Date.now();
  const expiresIn = preset === "custom" ? customExpiresIn(customDate, now) : PRESETS.find((p) => p.id === preset)!.seconds;
  return { preset, setPreset, customDate, setCustomDate, expiresIn, now };
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
  const choices = useScopeChoices();
  const scopeRows = useScopeRows(choices);
  const { rows } = scopeRows;
  const expiry = useExpiry();
  const { expiresIn } = expiry;

  const [name, setName] = useState("");
  const [type, setType] = useState<TokenType>("PAT");
  const [description, setDescription] = useState("");
  const [access, setAccess] = useState<Access>("selected");
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);

  const scoped = access === "selected";
  const errors = checkTokenForm({ name, description, expiresIn, scoped, rows }, activeNames);
  const dirty = name !== "" || description !== "" || rows.some((d) => d.permissions.length > 0) || access === "full";
  useEffectOnChange(dirty, onDirty);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setServerError(null);
    if (!errors.valid || expiresIn === null) {
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
        scopes: scoped ? entriesOf(rows) : [],
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      onCreated({ token: r.token, name: r.name, type, expiresAt: r.expiresAt, scopes: r.scopes as ScopeEntry[], warnings: r.warnings ?? [] });
    } catch (err) {
      setServerError(describeError(err).message);
      setPending(false);
    }
  }

  const show = (err: string | null, touched: boolean) => (err !== null && (submitted || touched) ? err : null);
  return (
    <form className="dialog-body" onSubmit={submit} noValidate>
      <NameAndType name={name} setName={setName} type={type} setType={setType} error={show(errors.name, name.length > 0)} />
      <DescriptionField value={description} onChange={setDescription} error={show(errors.description, true)} />
      <ExpiryFieldset {...expiry} error={show(errors.expiry, expiry.preset === "custom")} />
      <ScopesFieldset
        scoped={scoped}
        setAccess={setAccess}
        choices={choices}
        scopeRows={scopeRows}
        rowErrors={rows.map((d, i) => (submitted || d.permissions.length > 0 ? errors.drafts[i] : null))}
        error={submitted ? errors.scope : null}
      />
      <CreateActions serverError={serverError} invalid={submitted && !errors.valid} pending={pending} />
    </form>
  );
}

/** "What can this token do?": only the permissions chosen in the scope rows, or everything my roles allow. */
function ScopesFieldset(props: {
  scoped: boolean;
  setAccess: (a: Access) => void;
  choices: ScopeChoices;
  scopeRows: ReturnType<typeof useScopeRows>;
  rowErrors: (string | null)[];
  error: string | null;
}) {
  const { scoped, choices, scopeRows, error } = props;
  return (
    <fieldset className="field scopes-field">
      <legend>What can this token do?</legend>
      <AccessChoice scoped={scoped} setAccess={props.setAccess} />
      {choices.loading ? <Loading label="Loading your organizations…" /> : null}
      {scoped ? (
        <ScopeEditor
          drafts={scopeRows.rows}
          errors={props.rowErrors}
          orgs={choices.orgList}
          workspaces={choices.workspaces}
          roles={choices.roles}
          onChange={scopeRows.update}
          onAdd={scopeRows.add}
          onRemove={scopeRows.remove}
        />
      ) : (
        <FullRoleWarning />
      )}
      {error ? <p className="field-error">{error}</p> : null}
    </fieldset>
  );
}

/** The server's refusal, the "fix the fields" alert, and Cancel / Create token. */
function CreateActions({ serverError, invalid, pending }: { serverError: string | null; invalid: boolean; pending: boolean }) {
  const requestClose = useRequestClose();
  return (
    <>
      <FormError>{serverError}</FormError>
      {invalid ? (
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
    </>
  );
}

type TokenType = "PAT" | "MCP";

function NameAndType(props: { name: string; setName: (v: string) => void; type: TokenType; setType: (v: TokenType) => void; error: string | null }) {
  const ids = { type: useId(), typeHint: useId() };
  const { name, type, error } = props;
  return (
    <div className="grid-2">
      <TokenNameField value={name} onChange={props.setName} error={error} hint="Letters, digits, “-” and “_”, e.g. ci-deploy." autoFocus />
      <div className="field">
        <label htmlFor={ids.type}>Type</label>
        <select id={ids.type} value={type} aria-describedby={ids.typeHint} onChange={(e) => props.setType(e.target.value as TokenType)}>
          <option value="PAT">PAT — servers and scripts</option>
          <option value="MCP">MCP — an MCP client (Claude, Cursor…)</option>
        </select>
        <p id={ids.typeHint} className="field-hint">
          {type === "MCP" ? "You'll get a ready configuration for Claude Desktop and Claude Code." : "A label; both types work everywhere."}
        </p>
      </div>
    </div>
  );
}

function DescriptionField({ value, onChange, error }: { value: string; onChange: (v: string) => void; error: string | null }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>
        Description <span className="muted">(optional)</span>
      </label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error !== null} placeholder="What is this token for?" />
      {error ? <p className="field-error">{error}</p> : null}
    </div>
  );
}

function ExpiryFieldset(props: {
  preset: PresetId;
  setPreset: (p: PresetId) => void;
  customDate: string;
  setCustomDate: (d: string) => void;
  expiresIn: number | null;
  now: number;
  error: string | null;
}) {
  const id = useId();
  const { preset, expiresIn, now, error } = props;
  return (
    <fieldset className="field">
      <legend>Expires after</legend>
      <Segmented name="expiry" options={PRESETS} value={preset} onChange={props.setPreset} />
      {preset === "custom" ? (
        <div className="field field-inline">
          <label htmlFor={id}>Expiry date</label>
          <input
            id={id}
            type="date"
            value={props.customDate}
            min={dateInputValue(now + DAY_MS)}
            max={dateInputValue(now + MAX_EXPIRES_IN_S * 1000)}
            onChange={(e) => props.setCustomDate(e.target.value)}
            aria-invalid={error !== null}
          />
        </div>
      ) : null}
      {error ? (
        <p className="field-error">{error}</p>
      ) : expiresIn !== null && expiresIn >= MIN_EXPIRES_IN_S ? (
        <p className="field-hint">Expires {absoluteTime(now + expiresIn * 1000)}.</p>
      ) : null}
    </fieldset>
  );
}

const FULL_WARN_ID = "create-token-full-role-warning";

function AccessChoice({ scoped, setAccess }: { scoped: boolean; setAccess: (a: Access) => void }) {
  return (
    <div className="choices">
      <label className="choice">
        <input type="radio" name="access" value="selected" checked={scoped} onChange={() => setAccess("selected")} />
        <span>
          <strong>Only the permissions I choose</strong>
          <span className="muted small"> — recommended: it starts with no access; add what it needs below.</span>
        </span>
      </label>
      <label className="choice">
        <input type="radio" name="access" value="full" checked={!scoped} onChange={() => setAccess("full")} aria-describedby={!scoped ? FULL_WARN_ID : undefined} />
        <span>
          <strong>Everything my roles allow</strong>
          <span className="muted small"> — full role, in every organization, including roles you get later.</span>
        </span>
      </label>
    </div>
  );
}

function FullRoleWarning() {
  return (
    <p id={FULL_WARN_ID} className="notice notice-warn">
      This token can do <strong>everything you can</strong>, wherever your roles allow it — except getting tokens from your OAuth
      connections (<code>connections:use</code>), which a token gets only when a scope names it. Prefer a narrower token if it leaks
      easily (CI logs, shared machines, agents).
    </p>
  );
}

/** Calls `f(value)` whenever `value` changes (after render). */
function useEffectOnChange<T>(value: T, f: (v: T) => void) {
  useEffect(() => f(value), [value, f]);
}
