import { useMutation } from "convex/react";
import { useId, useState, type FormEvent } from "react";
import type { ScopeEntry } from "../../../shared/scopes";
import { isTokenName } from "../../../shared/tokens";
import { api } from "../api";
import { TokenNameField } from "../components/fields";
import { Dialog, FormError, useRequestClose, type CloseGuard } from "../components/ui";
import { describeError } from "../lib/errors";
import { absoluteTime } from "../lib/time";
import { descriptionError } from "../lib/tokenForm";
import { ONCE_GUARD, OnceView, type CreatedToken } from "./OnceView";

const EDIT_GUARD: CloseGuard = { title: "Discard your changes?", body: "The token keeps its current name and description.", keepLabel: "Keep editing", closeLabel: "Discard" };

type TokenFacts = { _id: string; name: string; description: string | null; type: "PAT" | "MCP" };

/** Rename a token or change its description (auth:updateApiToken). */
export function EditTokenDialog({ token, onClose }: { token: TokenFacts; onClose: () => void }) {
  const [name, setName] = useState(token.name);
  const [description, setDescription] = useState(token.description ?? "");
  const dirty = name !== token.name || description !== (token.description ?? "");
  return (
    <Dialog title={`Edit “${token.name}”`} onClose={onClose} guard={dirty ? EDIT_GUARD : null} className="dialog-narrow">
      <EditForm token={token} name={name} setName={setName} description={description} setDescription={setDescription} onSaved={onClose} />
    </Dialog>
  );
}

function EditForm(props: {
  token: TokenFacts;
  name: string;
  setName: (v: string) => void;
  description: string;
  setDescription: (v: string) => void;
  onSaved: () => void;
}) {
  const { token, name, description } = props;
  const update = useMutation(api.auth.updateApiToken);
  const requestClose = useRequestClose();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const ids = { desc: useId() };
  const nameError = isTokenName(name) ? null : "Use 1–64 letters, digits, “-” or “_”.";
  const descError = descriptionError(description);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (nameError || descError) return;
    setPending(true);
    setError(null);
    try {
      await update({
        tokenId: token._id,
        ...(name !== token.name ? { name } : {}),
        ...(description !== (token.description ?? "") ? { description } : {}),
      });
      props.onSaved();
    } catch (err) {
      setError(describeError(err).message);
      setPending(false);
    }
  }
  return (
    <form className="dialog-body" onSubmit={submit} noValidate>
      <TokenNameField value={name} onChange={props.setName} error={nameError} hint="Renaming changes nothing for whoever holds the token." />
      <div className="field">
        <label htmlFor={ids.desc}>
          Description <span className="muted">(optional)</span>
        </label>
        <input id={ids.desc} value={description} onChange={(e) => props.setDescription(e.target.value)} aria-invalid={descError !== null} />
        {descError ? <p className="field-error">{descError}</p> : null}
      </div>
      <FormError>{error}</FormError>
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={requestClose}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={pending || nameError !== null || descError !== null}>
          {pending ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

const GRACE = [
  { seconds: 0, label: "Stop the old secret now" },
  { seconds: 3600, label: "Keep it working for 1 hour" },
  { seconds: 86_400, label: "Keep it working for 1 day" },
  { seconds: 7 * 86_400, label: "Keep it working for 7 days" },
] as const;

type Regenerated = CreatedToken & { tokenId: string; previousExpiresAt: number };

/**
 * A new secret with the same settings (auth:regenerateApiToken): pick how long
 * the old one keeps working, then copy the new one from the once-view.
 * `onDone` gets the new token's id (it is a new row) once the view is closed.
 */
export function RegenerateDialog({ token, onDone, onCancel }: { token: TokenFacts; onDone: (newId: string) => void; onCancel: () => void }) {
  const regenerate = useMutation(api.auth.regenerateApiToken);
  const [grace, setGrace] = useState(0);
  const [created, setCreated] = useState<Regenerated | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      const r = await regenerate({ tokenId: token._id, graceSeconds: grace });
      setCreated({
        token: r.token,
        tokenId: r.tokenId,
        name: r.name,
        type: token.type,
        expiresAt: r.expiresAt,
        scopes: r.scopes as ScopeEntry[],
        warnings: r.warnings ?? [],
        previousExpiresAt: r.previousExpiresAt,
      });
    } catch (err) {
      setError(describeError(err).message);
      setPending(false);
    }
  }
  const close = () => (created ? onDone(created.tokenId) : onCancel());
  return (
    <Dialog
      title={created ? "Copy the regenerated token" : `Regenerate “${token.name}”?`}
      onClose={close}
      guard={created && !copied ? ONCE_GUARD : null}
      className={created ? "dialog-wide" : "dialog-narrow"}
    >
      {created ? (
        <OnceView created={created} onCopied={() => setCopied(true)}>
          <p className="notice notice-info">
            {created.previousExpiresAt > Date.now()
              ? `The old secret keeps working until ${absoluteTime(created.previousExpiresAt)}, then stops.`
              : "The old secret has stopped working."}
          </p>
        </OnceView>
      ) : (
        <RegenerateForm grace={grace} setGrace={setGrace} pending={pending} error={error} onSubmit={submit} />
      )}
    </Dialog>
  );
}

function RegenerateForm(props: { grace: number; setGrace: (s: number) => void; pending: boolean; error: string | null; onSubmit: (e: FormEvent) => void }) {
  const requestClose = useRequestClose();
  return (
    <form className="dialog-body" onSubmit={props.onSubmit}>
      <p>A new secret with the same name, scopes and lifetime (counted from now). Whatever uses the old one must switch to it.</p>
      <fieldset className="field">
        <legend>The old secret</legend>
        <div className="choices">
          {GRACE.map((g) => (
            <label key={g.seconds} className="choice">
              <input type="radio" name="grace" checked={props.grace === g.seconds} onChange={() => props.setGrace(g.seconds)} />
              <span>{g.label}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <FormError>{props.error}</FormError>
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={requestClose}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={props.pending}>
          {props.pending ? "Regenerating…" : "Regenerate"}
        </button>
      </div>
    </form>
  );
}
