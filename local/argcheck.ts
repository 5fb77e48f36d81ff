/**
 * What convex-test's argument validator gets wrong, checked before each call.
 */

export type ValidatorJson = { type: string; value?: Record<string, { fieldType: ValidatorJson }> | ValidatorJson };

/**
 * What convex-test's argument validator gets wrong, worded as Convex's
 * validator does (crates/common/src/schemas/validator.rs): it crashes on null
 * where an object is expected, and it misses an undeclared `__proto__` field
 * (it looks fields up as `validator.value[k]`, which finds Object.prototype).
 */
export function convexTestMisses(validator: ValidatorJson, value: unknown, path: string): string | null {
  if (validator.type === "object" && validator.value) {
    if (value === null) {
      return `ArgumentValidationError: Value does not match validator.\nPath: ${path || "."}\nValue: null\nValidator: v.object(...)`;
    }
    if (typeof value !== "object" || Array.isArray(value)) return null;
    const fields = validator.value as Record<string, { fieldType: ValidatorJson }>;
    if (Object.hasOwn(value, "__proto__") && !Object.hasOwn(fields, "__proto__")) {
      return `ArgumentValidationError: Object contains extra field \`__proto__\` that is not in the validator.\nPath: ${path || "."}`;
    }
    for (const [k, { fieldType }] of Object.entries(fields)) {
      const found = convexTestMisses(fieldType, (value as Record<string, unknown>)[k], `${path}.${k}`);
      if (found !== null) return found;
    }
  } else if (validator.type === "array" && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = convexTestMisses(validator.value as ValidatorJson, value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
  }
  return null;
}
