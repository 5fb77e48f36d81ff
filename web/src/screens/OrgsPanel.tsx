import { useMutation } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useEffect, useId, useState } from "react";
import type { Id } from "../../../convex/_generated/dataModel";
import { isSlug } from "../../../shared/scopes";
import { api } from "../api";
import { Badge, ConfirmDialog, Empty, FormError, LiveView } from "../components/ui";
import { errorMessage } from "../lib/errors";
import { useFormSubmit } from "../lib/form";
import { OrgAdmin } from "./OrgAdmin";
import { useLive } from "../lib/live";
import { ROLE_PERMISSIONS, type Role } from "../lib/permissions";

const ROLES: Role[] = ["owner", "admin", "member", "viewer"];
const ORG_KEY = "keyhole:selectedOrg";
const SLUG_HINT = "Lowercase letters, digits and “-”, starting with a letter or digit.";

function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

export function OrgsPanel() {
  const orgs = useLive(api.orgs.listMine, {});
  const [selected, setSelected] = useState<string | null>(() => window.localStorage.getItem(ORG_KEY));
  const list = orgs.status === "ready" ? orgs.data : [];
  const current = list.find((o) => o.slug === selected) ?? list[0] ?? null;
  useEffect(() => {
    if (current) window.localStorage.setItem(ORG_KEY, current.slug);
  }, [current]);
  const switchId = useId();

  return (
    <section aria-labelledby="orgs-h">
      <div className="panel-head">
        <div>
          <h1 id="orgs-h">Organizations</h1>
          <p className="muted">Organizations own workspaces; your role in each decides what you and your tokens can do.</p>
        </div>
        {list.length > 1 ? (
          <div className="field field-inline">
            <label htmlFor={switchId}>Organization</label>
            <select id={switchId} value={current?.slug ?? ""} onChange={(e) => setSelected(e.target.value)}>
              {list.map((o) => (
                <option key={o.slug} value={o.slug}>
                  {o.name} ({o.role})
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </div>
      <LiveView live={orgs} loadingLabel="Loading organizations…" errorTitle="Couldn't load your organizations">
        {(data) =>
          data.length === 0 ? (
            <Empty title="You're not in any organization yet">Create one below; you become its owner.</Empty>
          ) : current ? (
            <OrgDetail key={current.slug} org={current} />
          ) : null
        }
      </LiveView>
      <CreateOrgForm onCreated={(slug) => setSelected(slug)} />
    </section>
  );
}

function CreateOrgForm({ onCreated }: { onCreated: (slug: string) => void }) {
  const create = useMutation(api.orgs.create);
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [slugEdited, setSlugEdited] = useState(false);
  const nameId = useId();
  const slugId = useId();
  const effectiveSlug = slugEdited ? slug : slugify(name);
  const nameError = name.trim().length === 0 ? "Give it a name." : name.length > 64 ? "At most 64 characters." : null;
  const slugError = isSlug(effectiveSlug) ? null : SLUG_HINT;
  const { submitted, pending, error, onSubmit } = useFormSubmit(!!(nameError || slugError), async () => {
    await create({ slug: effectiveSlug, name: name.trim() });
    onCreated(effectiveSlug);
    setName("");
    setSlug("");
    setSlugEdited(false);
  });

  return (
    <form className="card form-card" onSubmit={onSubmit} noValidate aria-labelledby={`${nameId}-h`}>
      <h2 id={`${nameId}-h`} className="section-h">
        New organization
      </h2>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={nameId}>Name</label>
          <input id={nameId} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={submitted && !!nameError} />
          {submitted && nameError ? <p className="field-error">{nameError}</p> : null}
        </div>
        <div className="field">
          <label htmlFor={slugId}>Slug</label>
          <input
            id={slugId}
            value={effectiveSlug}
            onChange={(e) => {
              setSlug(e.target.value);
              setSlugEdited(true);
            }}
            aria-invalid={(submitted || slugEdited) && !!slugError}
            spellCheck={false}
            autoComplete="off"
          />
          <p className={(submitted || slugEdited) && slugError ? "field-error" : "field-hint"}>
            {(submitted || slugEdited) && slugError ? slugError : `Used in scopes, e.g. ${effectiveSlug || "acme"}/site=work:read`}
          </p>
        </div>
      </div>
      <FormError>{error}</FormError>
      <button type="submit" className="btn btn-primary" disabled={pending}>
        {pending ? "Creating…" : "Create organization"}
      </button>
    </form>
  );
}

function OrgDetail({ org }: { org: { slug: string; name: string; role: string } }) {
  const role = org.role as Role;
  const perms = ROLE_PERMISSIONS[role] ?? new Set();
  return (
    <div className="stack">
      <div className="org-title">
        <h2>{org.name}</h2>
        <code>{org.slug}</code>
        <Badge tone="info">you: {org.role}</Badge>
      </div>
      <Workspaces org={org.slug} canCreate={perms.has("workspace:admin")} />
      <Members org={org.slug} canManage={perms.has("members:write")} myRole={role} />
      {perms.has("org:configure") ? <OrgAdmin org={org.slug} myRole={role} /> : null}
    </div>
  );
}

function Workspaces({ org, canCreate }: { org: string; canCreate: boolean }) {
  const workspaces = useLive(api.workspaces.list, { org });
  const create = useMutation(api.workspaces.create);
  const [name, setName] = useState("");
  const inputId = useId();
  const slug = slugify(name);
  const invalid = !isSlug(slug);
  const { submitted, pending, error, onSubmit } = useFormSubmit(invalid, async () => {
    await create({ org, slug, name: name.trim() });
    setName("");
  });

  return (
    <article className="card" aria-labelledby={`${inputId}-h`}>
      <h3 id={`${inputId}-h`} className="section-h">
        Workspaces
      </h3>
      <LiveView live={workspaces} loadingLabel="Loading workspaces…" errorTitle="Couldn't load workspaces">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No workspaces yet" />
          ) : (
            <ul className="chips">
              {list.map((w) => (
                <li key={w._id} className="chip">
                  <span className="chip-resource">
                    {org}/{w.slug}
                  </span>
                  {w.name !== w.slug ? <span className="muted"> {w.name}</span> : null}
                </li>
              ))}
            </ul>
          )
        }
      </LiveView>
      {canCreate ? (
        <form className="inline-form" onSubmit={onSubmit} noValidate>
          <div className="field">
            <label htmlFor={inputId}>New workspace</label>
            <input
              id={inputId}
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="site"
              aria-invalid={submitted && invalid}
            />
            {name && !invalid ? <p className="field-hint">Slug: {slug}</p> : null}
            {submitted && invalid ? <p className="field-error">{SLUG_HINT}</p> : null}
          </div>
          <button type="submit" className="btn" disabled={pending}>
            {pending ? "Creating…" : "Create workspace"}
          </button>
        </form>
      ) : null}
      <FormError>{error}</FormError>
    </article>
  );
}

type Member = FunctionReturnType<typeof api.orgs.listMembers>[number];

/** One member: name, "you", and either their role or (when I may change it) a role picker and Remove. */
function MemberRow({
  m,
  label,
  isMe,
  editable,
  roles,
  onRole,
  onRemove,
}: {
  m: Member;
  label: string;
  isMe: boolean;
  editable: boolean;
  roles: Role[];
  onRole: (role: Role) => void;
  onRemove: () => void;
}) {
  return (
    <li className="row">
      <div className="row-main">
        <div>
          <strong>{label}</strong> {isMe ? <Badge tone="info">you</Badge> : null}
        </div>
      </div>
      {editable ? (
        <>
          <label className="sr-only" htmlFor={`role-${m.userId}`}>
            Role of {label}
          </label>
          <select id={`role-${m.userId}`} value={m.role} onChange={(e) => onRole(e.target.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <button type="button" className="btn btn-small btn-ghost" onClick={onRemove} aria-label={`Remove ${label}`}>
            Remove
          </button>
        </>
      ) : (
        <Badge tone="neutral">{m.role}</Badge>
      )}
    </li>
  );
}

function Members({ org, canManage, myRole }: { org: string; canManage: boolean; myRole: Role }) {
  const members = useLive(api.orgs.listMembers, { org });
  const me = useLive(api.users.me, {});
  const setRole = useMutation(api.orgs.setRole);
  const removeMember = useMutation(api.orgs.removeMember);
  const [removing, setRemoving] = useState<{ userId: Id<"users">; label: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ids = { h: useId() };
  const myId = me.status === "ready" ? me.data.userId : null;
  // Admins cannot hand out or take away ownership; owners can.
  const assignable = myRole === "owner" ? ROLES : ROLES.filter((r) => r !== "owner");
  const changeRole = async (userId: Id<"users">, role: Role) => {
    setError(null);
    try {
      await setRole({ org, userId, role });
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <article className="card" aria-labelledby={ids.h}>
      <h3 id={ids.h} className="section-h">
        Members
      </h3>
      <FormError>{error}</FormError>
      <LiveView live={members} loadingLabel="Loading members…" errorTitle="Couldn't load members">
        {(list) => (
          <ul className="rows">
            {list.map((m) => {
              const label = m.email ?? m.name ?? "member";
              const isMe = m.userId === myId;
              return (
                <MemberRow
                  key={m.userId}
                  m={m}
                  label={label}
                  isMe={isMe}
                  editable={canManage && !isMe && (myRole === "owner" || m.role !== "owner")}
                  roles={assignable}
                  onRole={(role) => void changeRole(m.userId, role)}
                  onRemove={() => setRemoving({ userId: m.userId, label })}
                />
              );
            })}
          </ul>
        )}
      </LiveView>
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.label}?`}
          confirmLabel="Remove member"
          onConfirm={() => removeMember({ org, userId: removing.userId })}
          onClose={() => setRemoving(null)}
        >
          <p>They lose access to {org} at once, and so do all their tokens for it.</p>
        </ConfirmDialog>
      ) : null}
    </article>
  );
}
