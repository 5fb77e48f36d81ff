// Spawns the real `keyhole` CLI (cli/bin.js) as a child process.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BIN = resolve(__dirname, "../../cli/bin.js");

export type CliResult = { code: number | null; stdout: string; stderr: string };

export type RunOptions = {
  /** Extra env (KEYHOLE_URL, KEYHOLE_TOKEN, ...). XDG_CONFIG_HOME comes from the home. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is never a TTY here). */
  input?: string;
  timeoutMs?: number;
};

/** A throwaway config home: each test's login lives in its own directory. */
export function makeHome() {
  const dir = mkdtempSync(join(tmpdir(), "keyhole-cli-"));
  const run = (args: string[], opts: RunOptions = {}) => runCli(args, { ...opts, env: { XDG_CONFIG_HOME: dir, ...opts.env } });
  return { dir, run, credentials: join(dir, "keyhole", "credentials.json"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type Home = ReturnType<typeof makeHome>;

/**
 * The config homes of one test file, whose commands reach `url()` (KEYHOLE_URL,
 * unless a call sets its own); `cleanup()` removes them all.
 */
export function homesFor(url: () => string) {
  const made: Home[] = [];
  return {
    make(): Home {
      const h = makeHome();
      made.push(h);
      return { ...h, run: (args, opts = {}) => h.run(args, { ...opts, env: { KEYHOLE_URL: url(), ...opts.env } }) };
    },
    cleanup: () => {
      for (const h of made) h.cleanup();
    },
  };
}

/** `r` itself when the command exited 0; else an error with what it printed. */
export function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("KEYHOLE_") && k !== "XDG_CONFIG_HOME") env[k] = v;
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`keyhole ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}
