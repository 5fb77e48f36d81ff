import { useId, type ReactNode } from "react";

/** Small form pieces the screens share. */

export type Choice<T extends string> = { id: T; label: string };

/** Radio buttons shown as one segmented control. */
export function Segmented<T extends string>(props: { name: string; options: readonly Choice<T>[]; value: T; onChange: (v: T) => void }) {
  return (
    <div className="segmented">
      {props.options.map((o) => (
        <label key={o.id} className="seg">
          <input type="radio" name={props.name} value={o.id} checked={props.value === o.id} onChange={() => props.onChange(o.id)} />
          <span>{o.label}</span>
        </label>
      ))}
    </div>
  );
}

/** One `<option>` per choice, for a `<select>`. */
export function Options({ options }: { options: readonly Choice<string>[] }) {
  return (
    <>
      {options.map((o) => (
        <option key={o.id} value={o.id}>
          {o.label}
        </option>
      ))}
    </>
  );
}

/** A table's frame: a caption for screen readers and the column headings; `null` heads an unlabelled actions column. */
export function DataTable(props: { className: string; caption: ReactNode; columns: (string | null)[]; wrap?: boolean; children: ReactNode }) {
  const table = (
    <table className={props.className}>
      <caption className="sr-only">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c, i) => (
            <th key={i} scope="col">
              {c ?? <span className="sr-only">Actions</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
  return props.wrap === false ? table : <div className="table-wrap">{table}</div>;
}

/** A token's name field: the rule's hint until there is an error to show. */
export function TokenNameField(props: { value: string; onChange: (v: string) => void; error: string | null; hint: string; autoFocus?: boolean }) {
  const id = useId();
  const hintId = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Name</label>
      <input
        id={id}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.error !== null}
        aria-describedby={hintId}
        autoComplete="off"
        spellCheck={false}
        maxLength={80}
        {...(props.autoFocus ? { "data-autofocus": true } : {})}
      />
      <p id={hintId} className={props.error ? "field-error" : "field-hint"}>
        {props.error ?? props.hint}
      </p>
    </div>
  );
}
