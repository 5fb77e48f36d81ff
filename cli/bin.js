#!/usr/bin/env node
// The `keyhole` command.
//
// Fast path: a bundle of cli/ made by esbuild and cached in
// node_modules/.cache/keyhole-cli/, rebuilt automatically when any source it
// was built from changes (checked by content hash, ~1 ms). If the cache cannot
// be built or written, the TypeScript sources run through tsx's loader
// instead (slower start, same behaviour). KEYHOLE_CLI_NO_CACHE=1 forces tsx.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const BUILD_FORMAT = 1; // bump when the build options below change
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const entry = join(here, "main.ts");
const cacheDir = join(root, "node_modules", ".cache", "keyhole-cli");
const bundlePath = join(cacheDir, "main.mjs");
const stampPath = join(cacheDir, "stamp.json");

function digest(files) {
  const h = createHash("sha256");
  h.update(`format ${BUILD_FORMAT}\n`);
  for (const f of files) h.update(`${f}\n`).update(readFileSync(join(root, f))).update("\n");
  return h.digest("hex");
}

function cacheIsFresh() {
  try {
    const stamp = JSON.parse(readFileSync(stampPath, "utf8"));
    return stamp.format === BUILD_FORMAT && existsSync(bundlePath) && digest(stamp.inputs) === stamp.digest;
  } catch {
    return false;
  }
}

async function buildCache() {
  const { build } = await import("esbuild");
  const tmp = `${bundlePath}.${process.pid}.tmp`;
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: tmp,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => relative(root, resolve(process.cwd(), p)))
    .sort();
  renameSync(tmp, bundlePath);
  const stampTmp = `${stampPath}.${process.pid}.tmp`;
  writeFileSync(stampTmp, JSON.stringify({ format: BUILD_FORMAT, inputs, digest: digest(inputs) }));
  renameSync(stampTmp, stampPath);
}

async function loadCli() {
  if (!process.env.KEYHOLE_CLI_NO_CACHE) {
    try {
      if (!cacheIsFresh()) {
        mkdirSync(cacheDir, { recursive: true });
        await buildCache();
      }
      return await import(pathToFileURL(bundlePath).href);
    } catch {
      rmSync(`${bundlePath}.${process.pid}.tmp`, { force: true });
      // fall back to running the sources
    }
  }
  const { register } = await import("tsx/esm/api");
  register();
  return await import(pathToFileURL(entry).href);
}

const { run } = await loadCli();
process.exitCode = await run(process.argv.slice(2));
