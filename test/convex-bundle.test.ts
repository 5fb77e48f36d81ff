// convex/ must bundle the way the Convex runtime needs it: every module that
// isn't a "use node" file is bundled for the isolate (esbuild, platform
// browser — the options `npx convex deploy` uses), and no Node built-in may be
// reached from it. The embedded backend runs on Node and would not notice
// such an import; this check would. Then every module is evaluated with only
// the globals Convex provides, and TypeScript's checker finds any reference
// to a Node-only global (Buffer, require, setImmediate, …) in function bodies
// (test/helpers/convexRuntime.ts).
import fs from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { describe, expect, test } from "vitest";
import { evaluateInConvexGlobals, nodeOnlyReferences } from "./helpers/convexRuntime";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith("_")));
const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".jsx"];

function hasUseNode(source: string): boolean {
  // Directives come first in the file, before any import or statement.
  for (const raw of source.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) continue;
    return /^("|')use node("|');?$/.test(line);
  }
  return false;
}

/** Like the Convex CLI's entry points: every source file outside _generated. */
function entryPoints(dir: string): { isolate: string[]; node: string[] } {
  const isolate: string[] = [];
  const node: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      const rel = path.relative(dir, full);
      if (e.isDirectory()) {
        if (rel !== "_generated" && !e.name.startsWith(".") && e.name !== "node_modules") walk(full);
        continue;
      }
      if (!EXTENSIONS.some((x) => e.name.endsWith(x)) || e.name.endsWith(".d.ts") || e.name.startsWith(".")) continue;
      if (/\.(test|spec)\.[^.]+$/.test(e.name)) continue;
      (hasUseNode(fs.readFileSync(full, "utf8")) ? node : isolate).push(full);
    }
  };
  walk(dir);
  return { isolate, node };
}

type Violation = { builtin: string; importer: string };

/** esbuild plugin: Node built-ins are violations (recorded, left external); async_hooks is Convex's global. */
function isolateGuard(violations: Violation[]): esbuild.Plugin {
  return {
    name: "no-node-builtins-in-isolate",
    setup(build) {
      build.onResolve({ filter: /^(node:)?async_hooks$/ }, (args) => ({ path: args.path, namespace: "async-hooks-shim" }));
      build.onLoad({ filter: /.*/, namespace: "async-hooks-shim" }, () => ({
        contents: "export const AsyncLocalStorage = globalThis.AsyncLocalStorage; export default { AsyncLocalStorage };",
        loader: "js",
      }));
      build.onResolve({ filter: /.*/ }, (args) => {
        const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path;
        if (args.path.startsWith("node:") || BUILTINS.has(name) || BUILTINS.has(name.split("/")[0]!)) {
          violations.push({ builtin: args.path, importer: path.relative(root, args.importer) });
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}

/** Bundles a convex/ folder for the Convex isolate; returns the violations and esbuild errors. */
export async function checkConvexBundle(dir: string): Promise<{ violations: Violation[]; errors: string[]; entryCount: number }> {
  const { isolate, node } = entryPoints(dir);
  const violations: Violation[] = [];
  const guard = isolateGuard(violations);
  const errors: string[] = [];
  const run = async (entries: string[], platform: esbuild.Platform, plugins: esbuild.Plugin[]) => {
    if (entries.length === 0) return;
    try {
      const result = await esbuild.build({
        entryPoints: entries,
        bundle: true,
        platform,
        format: "esm",
        target: "esnext",
        jsx: "automatic",
        outdir: "out",
        outbase: dir,
        conditions: ["convex", "module"],
        write: false,
        splitting: true,
        treeShaking: true,
        define: { "process.env.NODE_ENV": '"production"' },
        logLevel: "silent",
        plugins,
        ...(platform === "node" ? { packages: "external" as const } : {}),
      });
      errors.push(...result.errors.map((e) => e.text));
    } catch (e) {
      const failure = e as esbuild.BuildFailure;
      errors.push(...(failure.errors?.map((x) => `${x.location?.file ?? "?"}: ${x.text}`) ?? [String(e)]));
    }
  };
  await run(isolate, "browser", [guard]);
  // "use node" files may use Node: they only have to bundle.
  await run(node, "node", []);
  return { violations, errors, entryCount: isolate.length + node.length };
}

describe("convex/ bundles for the Convex runtime", () => {
  test("no Node built-ins outside \"use node\" files, and everything bundles", async () => {
    const { violations, errors, entryCount } = await checkConvexBundle(path.join(root, "convex"));
    expect(entryCount).toBeGreaterThan(3);
    expect(violations, "Node built-ins imported from the Convex isolate (add \"use node\" or move the code)").toEqual([]);
    expect(errors).toEqual([]);
  });

  test("the check catches a violation", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-bundle-"));
    try {
      fs.mkdirSync(path.join(dir, "_generated"));
      fs.mkdirSync(path.join(dir, "lib"));
      fs.writeFileSync(path.join(dir, "lib", "hash.ts"), 'import { createHash } from "node:crypto";\nexport const h = (s: string) => createHash("sha256").update(s).digest("hex");\n');
      fs.writeFileSync(path.join(dir, "bad.ts"), 'import { h } from "./lib/hash";\nexport const f = () => h("x");\n');
      fs.writeFileSync(path.join(dir, "alsoBad.ts"), 'import fs from "fs";\nexport const g = () => fs.existsSync("/");\n');
      fs.writeFileSync(path.join(dir, "nodeOk.ts"), '"use node";\nimport { createHash } from "node:crypto";\nexport const k = () => createHash("sha1");\n');
      fs.writeFileSync(path.join(dir, "fine.ts"), 'export const ok = () => crypto.subtle;\n');
      const { violations } = await checkConvexBundle(dir);
      const found = violations.map((v) => `${v.builtin} <- ${path.basename(v.importer)}`).sort();
      expect(found).toEqual(["fs <- alsoBad.ts", "node:crypto <- hash.ts"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Both runtime checks over a folder: module evaluation errors and Node-only global references. */
async function checkConvexGlobals(dir: string): Promise<{ evaluation: string[]; references: string[] }> {
  const { isolate } = entryPoints(dir);
  const failures = await evaluateInConvexGlobals(isolate, [isolateGuard([])]);
  const evaluation = [...failures].map(([entry, error]) => `${path.relative(dir, entry)}: ${error}`);
  const references = nodeOnlyReferences(isolate, path.join(root, "tsconfig.json")).map(
    (r) => `${path.relative(dir, path.resolve(r.file))}:${r.line} ${r.name}`,
  );
  return { evaluation, references };
}

describe("convex/ runs with only the globals Convex provides", () => {
  test("every module evaluates, and no function references a Node-only global", async () => {
    const { evaluation, references } = await checkConvexGlobals(path.join(root, "convex"));
    expect(evaluation, "modules that fail to evaluate with Convex's globals").toEqual([]);
    expect(references, "Node-only globals used outside \"use node\" files").toEqual([]);
  }, 120_000);

  test("the checks catch Node-only globals at module level and inside functions", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-globals-"));
    try {
      fs.mkdirSync(path.join(dir, "_generated"));
      fs.writeFileSync(path.join(dir, "top.ts"), 'export const bytes = Buffer.from("x");\n');
      fs.writeFileSync(
        path.join(dir, "inside.ts"),
        'export const later = () => setImmediate(() => {});\nexport const hex = (s: string) => Buffer.from(s).toString("hex");\nexport const tick = () => queueMicrotask(() => {});\nexport const cwd = () => process.cwd();\n',
      );
      fs.writeFileSync(
        path.join(dir, "fine.ts"),
        'export const site = process.env.CONVEX_SITE_URL;\nexport const ok = async () => [crypto.randomUUID(), new URL("https://a.example"), btoa("x"), await fetch("https://a.example"), setTimeout(() => {}, 1), new TextEncoder().encode("x"), Math.max(1, 2)];\n',
      );
      fs.writeFileSync(path.join(dir, "nodeOk.ts"), '"use node";\nexport const b = () => Buffer.from("x");\n');
      const { evaluation, references } = await checkConvexGlobals(dir);
      expect(evaluation).toEqual(["top.ts: Buffer is not defined"]);
      expect(references.sort()).toEqual(["inside.ts:1 setImmediate", "inside.ts:2 Buffer", "inside.ts:3 queueMicrotask", "inside.ts:4 process", "top.ts:1 Buffer"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
