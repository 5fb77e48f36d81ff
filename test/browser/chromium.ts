/**
 * Finds a Chromium for the browser tests with nothing but Node and npm:
 * `CHROMIUM_PATH` when it names a file, then a system Chromium, and otherwise
 * (or always, with `KEYHOLE_BUNDLED_CHROMIUM=1`) the headless Chromium that the `@sparticuz/chromium` npm package ships
 * inside itself (brotli archives, extracted once into node_modules/.cache).
 *
 * The extraction runs in a child process with its own TMPDIR (the package
 * extracts into `os.tmpdir()`), into a fresh staging folder that is renamed
 * into place when complete — so parallel test workers never see a half-written
 * binary, and an interrupted extraction is simply redone.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SYSTEM_CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export type FoundChromium = {
  executablePath: string;
  source: "CHROMIUM_PATH" | "system" | "@sparticuz/chromium";
  /** Extra environment for the browser process (fonts for the bundled build). */
  env?: Record<string, string>;
};

export type FindOptions = {
  env?: NodeJS.ProcessEnv;
  systemPaths?: string[];
  /** Where the bundled build is extracted (default node_modules/.cache/keyhole-chromium). */
  cacheDir?: string;
};

function isFile(p: string | undefined): p is string {
  return !!p && fs.existsSync(p) && fs.statSync(p).isFile();
}

export async function findChromium(opts: FindOptions = {}): Promise<FoundChromium> {
  const env = opts.env ?? process.env;
  const cacheDir = opts.cacheDir ?? path.join(root, "node_modules", ".cache", "keyhole-chromium");
  if (env.KEYHOLE_BUNDLED_CHROMIUM === "1") return await bundledChromium(cacheDir);
  if (isFile(env.CHROMIUM_PATH)) return { executablePath: env.CHROMIUM_PATH, source: "CHROMIUM_PATH" };
  const system = (opts.systemPaths ?? SYSTEM_CHROMIUM_PATHS).find(isFile);
  if (system) return { executablePath: system, source: "system" };
  return await bundledChromium(cacheDir);
}

async function bundledChromium(cacheDir: string): Promise<FoundChromium> {
  const pkg = JSON.parse(
    fs.readFileSync(path.join(root, "node_modules", "@sparticuz", "chromium", "package.json"), "utf8"),
  ) as { version: string };
  const dir = path.join(cacheDir, pkg.version);
  if (!isFile(path.join(dir, "chromium"))) await extractInto(dir);
  return {
    executablePath: path.join(dir, "chromium"),
    source: "@sparticuz/chromium",
    // The package's own fonts.conf points at /tmp/fonts; point fontconfig at ours.
    env: { FONTCONFIG_PATH: path.join(dir, "fontconfig") },
  };
}

async function extractInto(dir: string): Promise<void> {
  const staging = `${dir}.staging-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  fs.mkdirSync(staging, { recursive: true });
  try {
    await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", 'await (await import("@sparticuz/chromium")).default.executablePath();'],
      { cwd: root, env: { ...process.env, TMPDIR: staging }, timeout: 120_000 },
    );
    if (!isFile(path.join(staging, "chromium"))) throw new Error("@sparticuz/chromium extracted no binary");
    fs.mkdirSync(path.join(staging, "fontconfig"));
    fs.writeFileSync(
      path.join(staging, "fontconfig", "fonts.conf"),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <dir>${path.join(dir, "fonts")}</dir>\n  <dir>/usr/share/fonts</dir>\n` +
        `  <cachedir>${path.join(dir, "fonts-cache")}</cachedir>\n</fontconfig>\n`,
    );
    try {
      fs.renameSync(staging, dir);
    } catch (err) {
      // Another worker finished first: its copy is complete, keep it.
      if (!isFile(path.join(dir, "chromium"))) throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
