// Sign-in timing: an unknown account vs a wrong password vs the right one,
// through the official ConvexHttpClient against the embedded backend (real
// @convex-dev/auth sign-ins, real Scrypt). keyhole's sign-in runs one Scrypt
// verification in every case, so the two refusals should take the same time
// within noise. Prints the figures and writes bench/results/signin.json.
//
//   npx tsx bench/signin.ts [--n 20]
//
// Each attempt comes from its own loopback address (127.0.1.x): failures are
// limited per (account, address), and a benchmark must not trip that.
import { ConvexHttpClient } from "convex/browser";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { api } from "../convex/_generated/api";
import { spawnBackend } from "../test/helpers/backend";
import { PASSWORD, signUpFresh } from "../test/helpers/signup";
import { fetchFrom } from "../test/helpers/sourceAddress";
import { round, summarize } from "./lib/stats";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const N = arg("n", 20);

const b = await spawnBackend();
try {
  const { email } = await signUpFresh(b, "bench-signin");
  let address = 0;
  const attempt = async (who: string, password: string): Promise<number> => {
    address++;
    const c = new ConvexHttpClient(b.url, { logger: false, fetch: fetchFrom(`127.0.${1 + Math.floor(address / 250)}.${1 + (address % 250)}`) });
    const t0 = performance.now();
    await c.action(api.auth.signIn, { provider: "password", params: { email: who, password, flow: "signIn" } }).catch(() => null);
    return performance.now() - t0;
  };
  const unknown: number[] = [];
  const wrong: number[] = [];
  const right: number[] = [];
  // Interleaved, so load drift hits all three alike.
  for (let i = 0; i < N; i++) {
    unknown.push(await attempt(`nobody-${i}@example.com`, "not the password"));
    wrong.push(await attempt(email, "not the password"));
    right.push(await attempt(email, PASSWORD));
  }
  const result = {
    benchmark: "signin",
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAvg1m: round(loadavg()[0]) },
    backend: "embedded (child process), ConvexHttpClient over loopback HTTP",
    n: N,
    unknownAccount: summarize(unknown),
    wrongPassword: summarize(wrong),
    rightPassword: summarize(right),
  };
  console.log(`sign-in benchmark: n=${N} each, ${cpus().length} cpus, load ${round(loadavg()[0])}`);
  for (const [name, r] of [
    ["unknown account", result.unknownAccount],
    ["wrong password", result.wrongPassword],
    ["right password", result.rightPassword],
  ] as const) {
    console.log(`  ${name.padEnd(16)} p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms   max ${r.maxMs} ms`);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), "results", "signin.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`  wrote ${out}`);
} finally {
  await b.stop();
}
