// convex/ must bundle the way the Convex runtime needs it: every module that
// isn't a "use node" file is bundled for the isolate (esbuild, platform
// browser — the options `npx convex deploy` uses), and no Node built-in may be
// reached from it. The embedded backend runs on Node and would not notice
// such an import; this check would.
import fs from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { describe, expect, test } from "vitest";

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

/** Bundles a convex/ folder for the Convex isolate; returns the violations and esbuild errors. */
export async function checkConvexBundle(dir: string): Promise<{ violations: Violation[]; errors: string[]; entryCount: number }> {
  const { isolate, node } = entryPoints(dir);
  const violations: Violation[] = [];
  const guard: esbuild.Plugin = {
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
