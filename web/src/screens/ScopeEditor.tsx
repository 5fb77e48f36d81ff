import { useEffect, useId, useRef } from "react";
import { grantablePermissions, PERMISSION_DESCRIPTIONS, tierOf, type Permission, type Role, type Tier } from "../lib/permissions";
import type { Draft } from "../lib/tokenForm";

export type { Draft };

export type OrgChoice = { slug: string; name: string; role: string };

const TIER_HINT = {
  everywhere: "Everywhere: every organization you are in, and your own account.",
  org: "One organization: all its workspaces.",
  workspace: "One workspace.",
} as const;

/**
 * The scope rows of the create form. "+ Add scope" focuses the new row's
 * resource; "Remove" moves focus to the row before (or after), else to
 * "+ Add scope".
 */
export function ScopeEditor({
  drafts,
  errors,
  orgs,
  workspaces,
  roles,
  onChange,
  onAdd,
  onRemove,
}: {
  drafts: Draft[];
  errors: (string | null)[];
  orgs: OrgChoice[];
  workspaces: Record<string, string[]>;
  roles: Record<string, Role>;
  onChange: (key: number, patch: Partial<Draft>) => void;
  onAdd: () => void;
  onRemove: (key: number) => void;
}) {
  const addRef = useRef<HTMLButtonElement>(null);
  const focusNext = useRef<{ key: number; what: "resource" | "remove" } | "add" | null>(null);
  const rowRefs = useRef(new Map<number, HTMLDivElement>());
  useEffect(() => {
    const f = focusNext.current;
    if (f === null) return;
    focusNext.current = null;
    if (f === "add") addRef.current?.focus();
    else rowRefs.current.get(f.key)?.querySelector<HTMLElement>(f.what === "resource" ? "select" : "[data-remove]")?.focus();
  });
  const lastKey = drafts.at(-1)?.key;
  const prevAdded = useRef(lastKey);
  useEffect(() => {
    // A row was added: focus its resource.
    if (lastKey !== undefined && prevAdded.current !== undefined && lastKey > prevAdded.current) {
      rowRefs.current.get(lastKey)?.querySelector<HTMLElement>("select")?.focus();
    }
    prevAdded.current = lastKey;
  }, [lastKey]);

  const remove = (key: number) => {
    const i = drafts.findIndex((d) => d.key === key);
    const neighbour = drafts[i - 1] ?? drafts[i + 1];
    focusNext.current = neighbour ? { key: neighbour.key, what: "remove" } : "add";
    onRemove(key);
  };

  return (
    <>
      {drafts.map((d, i) => (
        <ScopeRow
          key={d.key}
          rowRef={(el) => (el ? rowRefs.current.set(d.key, el) : rowRefs.current.delete(d.key))}
          index={i}
          draft={d}
          error={errors[i]}
          orgs={orgs}
          workspaces={workspaces}
          roles={roles}
          onChange={(patch) => onChange(d.key, patch)}
          onRemove={() => remove(d.key)}
        />
      ))}
      <button type="button" ref={addRef} className="btn btn-small" onClick={onAdd}>
        + Add scope
      </button>
    </>
  );
}

function ScopeRow({
  rowRef,
  index,
  draft,
  error,
  orgs,
  workspaces,
  roles,
  onChange,
  onRemove,
}: {
  rowRef: (el: HTMLDivElement | null) => void;
  index: number;
  draft: Draft;
  error: string | null;
  orgs: OrgChoice[];
  workspaces: Record<string, string[]>;
  roles: Record<string, Role>;
  onChange: (patch: Partial<Draft>) => void;
  onRemove: () => void;
}) {
  const errId = useId();
  const tier = tierOf(draft.resource);
  const invalid = error !== null;
  return (
    <div className="scope-row" role="group" aria-label={`Scope ${index + 1}`} ref={rowRef}>
      <div className="scope-row-head">
        <ResourceField value={draft.resource} orgs={orgs} workspaces={workspaces} onChange={(resource) => onChange({ resource })} />
        <button type="button" className="btn btn-small btn-ghost" data-remove onClick={onRemove} aria-label={`Remove scope ${index + 1}`}>
          Remove
        </button>
      </div>
      <PermissionGroups
        grantable={grantablePermissions(draft.resource, roles)}
        tier={tier}
        chosen={draft.permissions}
        invalid={invalid}
        errorId={errId}
        onChange={(permissions) => onChange({ permissions })}
      />
      {tier === "workspace" ? <PatternsField value={draft.patterns} onChange={(patterns) => onChange({ patterns })} /> : null}
      {error ? (
        <p id={errId} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The row's resource: everywhere, one of my organizations, or one of its workspaces; the hint says which tier that is. */
function ResourceField({
  value,
  orgs,
  workspaces,
  onChange,
}: {
  value: string;
  orgs: OrgChoice[];
  workspaces: Record<string, string[]>;
  onChange: (resource: string) => void;
}) {
  const resId = useId();
  const resHint = useId();
  return (
    <div className="field">
      <label htmlFor={resId}>Resource</label>
      <select id={resId} value={value} aria-describedby={resHint} onChange={(e) => onChange(e.target.value)}>
        <option value="">Everywhere (every organization I'm in)</option>
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
      <p id={resHint} className="field-hint">
        {TIER_HINT[tierOf(value)]}
      </p>
    </div>
  );
}

const PERMISSIONS_LEGEND: Record<Tier, string> = { workspace: "in this workspace", org: "in this organization", everywhere: "everywhere" };

/** The permissions my role grants at the row's resource, one checkbox each, grouped by area (`tokens:…`, `items:…`). */
function PermissionGroups({
  grantable,
  tier,
  chosen,
  invalid,
  errorId,
  onChange,
}: {
  grantable: Permission[];
  tier: Tier;
  chosen: string[];
  invalid: boolean;
  errorId: string;
  onChange: (permissions: string[]) => void;
}) {
  const groups = new Map<string, Permission[]>();
  for (const p of grantable) {
    const area = p.split(":")[0];
    groups.set(area, [...(groups.get(area) ?? []), p]);
  }
  return (
    <fieldset className="perm-groups" aria-describedby={invalid ? errorId : undefined}>
      <legend className="perm-legend">Permissions {PERMISSIONS_LEGEND[tier]}</legend>
      {grantable.length === 0 ? <p className="field-hint">Your role grants nothing here.</p> : null}
      {[...groups].map(([area, perms]) => (
        <div key={area} className="perm-group">
          {perms.map((p) => (
            <label key={p} className="check">
              <input
                type="checkbox"
                aria-invalid={invalid && chosen.length === 0}
                checked={chosen.includes(p)}
                onChange={(e) => onChange(e.target.checked ? [...chosen, p] : chosen.filter((x) => x !== p))}
              />
              <span className="check-text">
                <code className="perm-name">{p}</code>
                <span className="perm-help">{PERMISSION_DESCRIPTIONS[p]}</span>
              </span>
            </label>
          ))}
        </div>
      ))}
    </fieldset>
  );
}

/** A workspace row's optional item-name globs, as typed. */
function PatternsField({ value, onChange }: { value: string; onChange: (patterns: string) => void }) {
  const patId = useId();
  const patHint = useId();
  return (
    <div className="field">
      <label htmlFor={patId}>
        Item name patterns <span className="muted">(optional)</span>
      </label>
      <input
        id={patId}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder="Signal/*, Config/**"
        aria-describedby={patHint}
        spellCheck={false}
      />
      <p id={patHint} className="field-hint">
        Comma-separated. <code>*</code> and <code>?</code> stay within one “/” segment, <code>**</code> crosses them. Empty = every item.
      </p>
    </div>
  );
}
