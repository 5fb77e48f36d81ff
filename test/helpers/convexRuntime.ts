/**
 * The globals a Convex function sees, and two checks that code in convex/
 * uses nothing else (test/convex-bundle.test.ts):
 *
 * - `evaluateInConvexGlobals`: bundles each module for the isolate and
 *   evaluates it in a fresh V8 context holding only ECMAScript's built-ins and
 *   Convex's globals, so module-level code that touches `Buffer`, `require`,
 *   `setImmediate`, … fails.
 * - `nodeOnlyReferences`: finds, with TypeScript's checker, every reference
 *   in non-"use node" files to a global that is neither ECMAScript's nor
 *   Convex's (code inside function bodies that evaluation never reaches).
 *
 * Convex's globals are what its runtime's `setup(global)` installs:
 * get-convex/convex-backend: npm-packages/udf-runtime/src/setup.ts and the
 * numbered setup files next to it (00_url … 27_performance); `process` is
 * `{ env }` only (setupMisc there).
 */
import path from "node:path";
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import vm from "node:vm";
import * as esbuild from "esbuild";
import ts from "typescript";

export const CONVEX_GLOBALS = [
  "URL", "URLSearchParams", "crypto", "Crypto", "SubtleCrypto", "CryptoKey", "DOMException", "console",
  "Event", "EventTarget", "structuredClone", "setTimeout", "clearTimeout", "setInterval", "clearInterval",
  "AbortController", "AbortSignal", "AsyncLocalStorage", "AsyncResource", "ReadableStream",
  "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "WritableStream", "WritableStreamDefaultWriter",
  "TransformStream", "TextEncoder", "TextDecoder", "TextEncoderStream", "TextDecoderStream", "Blob", "File",
  "Headers", "FormData", "Request", "Response", "fetch", "performance", "Performance", "PerformanceEntry",
  "PerformanceMark", "PerformanceMeasure", "atob", "btoa", "process", "self", "Convex",
] as const;

/** The global object of a fresh context: Convex's globals over ECMAScript's built-ins. */
function convexContext(): vm.Context {
  const host = globalThis as Record<string, unknown>;
  const sandbox: Record<string, unknown> = {};
  for (const name of CONVEX_GLOBALS) if (name in host) sandbox[name] = host[name];
  sandbox.AsyncLocalStorage = AsyncLocalStorage;
  sandbox.AsyncResource = AsyncResource;
  // process is only `{ env }` on Convex (reads go to the deployment's env vars):
  // the system ones Convex always sets (CONVEX_SITE_URL, CONVEX_CLOUD_URL), the
  // one auth.config.ts requires of every deployment (KEYHOLE_ISSUER, docs/deploy.md),
  // and nothing else.
  const deploymentEnv: Record<string, string> = {
    CONVEX_SITE_URL: "https://example-123.convex.site",
    CONVEX_CLOUD_URL: "https://example-123.convex.cloud",
    KEYHOLE_ISSUER: "https://keyhole.invalid/example",
  };
  sandbox.process = { env: new Proxy(deploymentEnv, { get: (env, name) => (typeof name === "string" ? env[name] : undefined) }) };
  sandbox.Convex = { syscall: () => "{}", asyncSyscall: async () => "{}", jsSyscall: () => undefined };
  const context = vm.createContext(sandbox);
  vm.runInContext("globalThis.self = globalThis;", context);
  return context;
}

/**
 * Bundles each entry for the isolate (as one script each) and evaluates it in
 * a fresh context; returns the entries that threw, with the error.
 */
export async function evaluateInConvexGlobals(entries: string[], plugins: esbuild.Plugin[]): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  if (entries.length === 0) return failures;
  const outbase = path.dirname(entries[0]!);
  const out = await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "__module",
    target: "esnext",
    conditions: ["convex", "module"],
    outdir: "out",
    outbase: path.parse(outbase).root,
    write: false,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
    plugins,
  });
  const byOutput = new Map(entries.map((e) => [path.resolve("out", path.relative(path.parse(outbase).root, e)).replace(/\.[^./\\]+$/, ".js"), e]));
  for (const file of out.outputFiles) {
    const entry = byOutput.get(file.path);
    if (entry === undefined) throw new Error(`esbuild wrote an unexpected file ${file.path}`);
    try {
      vm.runInContext(file.text, convexContext(), { filename: entry });
    } catch (e) {
      failures.set(entry, e !== null && typeof e === "object" && "message" in e ? String((e as Error).message) : String(e));
    }
  }
  return failures;
}

const ALLOWED = new Set<string>(CONVEX_GLOBALS);

function inTypePosition(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isTypeNode(n) || ts.isTypeAliasDeclaration(n) || ts.isInterfaceDeclaration(n)) return true;
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n) || ts.isImportSpecifier(n)) return true;
  }
  return false;
}

/** `process.env` is Convex's; any other use of `process` is not. */
function isProcessEnv(id: ts.Identifier): boolean {
  const p = id.parent;
  return ts.isPropertyAccessExpression(p) && p.expression === id && p.name.text === "env";
}

export type NodeOnlyReference = { file: string; line: number; name: string };

/**
 * References to globals Convex does not provide, in `files` (each checked in
 * the program of `tsconfig`): identifiers in expressions whose every
 * declaration is in a .d.ts file (imports and locals resolve to the source
 * itself). A global counts as ECMAScript's when TypeScript declares it in a
 * lib.es*.d.ts file; the rest must be one of CONVEX_GLOBALS.
 */
export function nodeOnlyReferences(files: string[], tsconfig: string): NodeOnlyReference[] {
  const config = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const found: NodeOnlyReference[] = [];
  const isGlobalReference = (id: ts.Identifier): boolean => {
    const p = id.parent;
    if ((ts.isPropertyAccessExpression(p) && p.name === id) || ts.isPropertyAssignment(p) || inTypePosition(id)) return false;
    if (ts.isBindingElement(p) && p.propertyName === id) return false;
    const decls = checker.getSymbolAtLocation(id)?.declarations ?? [];
    return decls.length > 0 && decls.every((d) => d.getSourceFile().isDeclarationFile);
  };
  const isEcma = (id: ts.Identifier) =>
    (checker.getSymbolAtLocation(id)?.declarations ?? []).some((d) => /[/\\]lib\.es[^/\\]*\.d\.ts$/.test(d.getSourceFile().fileName));
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) && isGlobalReference(node) && !isEcma(node)) {
        const name = node.text;
        if (!ALLOWED.has(name) || (name === "process" && !isProcessEnv(node))) {
          const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
          found.push({ file: path.relative(process.cwd(), file), line: line + 1, name });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}
