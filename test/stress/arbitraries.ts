// The fuzzer's generators (fast-check): odd strings, any JSON, and values
// shaped by a Convex argument validator — often wrong on purpose.
import fc from "fast-check";

export const weirdStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "%00",
  "../../etc/passwd",
  "a".repeat(5000),
  "*",
  "**",
  "acme=work:read",
  "x/y/z=work:read,nope",
  "work:*",
  "$set",
  "__proto__",
  "constructor",
  "<script>alert(1)</script>",
  "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA",
  "Bearer ",
  "😀🔑",
  "\ud800",
  "-1",
  "1e309",
  "null",
  "{}",
);
export const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), weirdStrings, fc.constant("KNOWN"));
export const leaf = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 2 ** 53, -(2 ** 31), 1e300, 0.5),
  fc.boolean(),
  fc.constant(null),
);
export const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), weirdStrings), tie("value"), { maxKeys: 4 }),
})).value;

/** Replaces the "KNOWN" placeholder by a real id or name, so some inputs reach deep. */
export function realize(v: unknown, pick: () => string): unknown {
  if (v === "KNOWN") return pick();
  if (Array.isArray(v)) return v.map((x) => realize(x, pick));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, realize(x, pick)]));
  return v;
}

export type Validator = { type: string; value?: unknown; tableName?: string };

/** Values shaped by a function's argument validator, often wrong on purpose. */
export function fromValidator(v: Validator, depth = 0): fc.Arbitrary<unknown> {
  const wrong = depth > 3 ? leaf : anyJson;
  let right: fc.Arbitrary<unknown>;
  switch (v.type) {
    case "string":
    case "id":
      right = text;
      break;
    case "number":
    case "float64":
      right = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -10, max: 10 ** 9 }));
      break;
    case "int64":
      right = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => ({ $integer: Buffer.from(new BigInt64Array([n]).buffer).toString("base64") }));
      break;
    case "boolean":
      right = fc.boolean();
      break;
    case "null":
      right = fc.constant(null);
      break;
    case "literal":
      right = fc.constant(v.value);
      break;
    case "array":
      right = fc.array(fromValidator(v.value as Validator, depth + 1), { maxLength: 5 });
      break;
    case "record":
      right = fc.dictionary(text, fromValidator(((v.value as { values?: { fieldType?: Validator } })?.values?.fieldType ?? { type: "any" }) as Validator, depth + 1), {
        maxKeys: 3,
      });
      break;
    case "union":
      right = fc.oneof(...((v.value as Validator[]) ?? [{ type: "any" }]).map((x) => fromValidator(x, depth + 1)));
      break;
    case "object": {
      const fields = Object.entries((v.value ?? {}) as Record<string, { fieldType: Validator; optional: boolean }>);
      right = fc
        .tuple(
          ...fields.map(([, f]) => fc.option(fromValidator(f.fieldType, depth + 1), { freq: f.optional ? 2 : 20, nil: undefined })),
          fc.option(fc.tuple(text, leaf), { freq: 5, nil: undefined }),
        )
        .map((vals) => {
          const o: Record<string, unknown> = {};
          fields.forEach(([k], i) => {
            if (vals[i] !== undefined) o[k] = vals[i];
          });
          const extra = vals[fields.length] as [string, unknown] | undefined;
          if (extra) o[extra[0]] = extra[1];
          return o;
        });
      break;
    }
    default:
      right = anyJson;
  }
  return fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: wrong });
}

