/**
 * The module map convex-test needs: every file under convex/ (including
 * `_generated/*.js`, whose path tells convex-test where the root is), keyed by
 * absolute path, loaded on demand with a real `import()` (tsx or vitest
 * compiles the TypeScript). Each loader keeps its module's promise: convex-test
 * loads a module on every call, and a repeated `import()` still resolves the
 * specifier through the loader hooks (tsx: a round trip to its loader thread).
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export type ModuleMap = Record<string, () => Promise<Record<string, unknown>>>;

const SOURCE = /\.(m?[jt]sx?)$/;

export function listConvexFiles(convexDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
        walk(full);
      } else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        out.push(full);
      }
    }
  };
  walk(convexDir);
  return out.sort();
}

export function buildModuleMap(convexDir: string): ModuleMap {
  const map: ModuleMap = {};
  for (const file of listConvexFiles(path.resolve(convexDir))) {
    const url = pathToFileURL(file).href;
    let loaded: Promise<Record<string, unknown>> | null = null;
    map[file] = () =>
      (loaded ??= (import(/* @vite-ignore */ url) as Promise<Record<string, unknown>>).then(memoizeValidatorJson, (e: unknown) => {
        loaded = null; // a failed import is tried again next time, as before
        throw e;
      }));
  }
  if (!Object.keys(map).some((k) => k.includes(`${path.sep}_generated${path.sep}`))) {
    throw new Error(`No ${convexDir}/_generated found: run \`npx convex codegen\``);
  }
  return map;
}

type Exported = { exportArgs?: () => string; exportReturns?: () => string };
const memoized = new WeakSet<object>();

/**
 * convex-test asks a function for its validators' JSON (`exportArgs`,
 * `exportReturns`: the validator tree built and stringified) on every call;
 * a loaded function's validators never change, so each is built once.
 */
function memoizeValidatorJson(mod: Record<string, unknown>): Record<string, unknown> {
  for (const value of Object.values(mod)) {
    if (typeof value !== "function" || memoized.has(value)) continue;
    memoized.add(value);
    const fn = value as Exported;
    for (const key of ["exportArgs", "exportReturns"] as const) {
      const original = fn[key];
      if (typeof original !== "function") continue;
      let json: string | undefined;
      fn[key] = () => (json ??= original.call(fn));
    }
  }
  return mod;
}

/** "auth:signIn", "auth.js:signIn", "dir/file" → {modulePath, exportName, udfPath}. */
export function canonicalizeUdfPath(udfPath: string): { modulePath: string; exportName: string; udfPath: string } {
  const i = udfPath.indexOf(":");
  let modulePath = i === -1 ? udfPath : udfPath.slice(0, i);
  const exportName = i === -1 ? "default" : udfPath.slice(i + 1);
  modulePath = modulePath.replace(/\.(m?js|ts)$/, "");
  return { modulePath, exportName, udfPath: `${modulePath}:${exportName}` };
}
