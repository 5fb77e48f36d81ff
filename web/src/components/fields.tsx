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
