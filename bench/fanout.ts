/**
 * Live-query fan-out cost (npx tsx bench/fanout.ts): the embedded backend in
 * this process, SUBSCRIBERS raw sync sockets subscribed to one query, and
 * WRITES mutations that each change its result. Reports, per write, the
 * process's CPU time (backend plus the sockets' parsing, which is the same
 * on every version) and the wall time until every subscriber has the new
 * result. CPU time is the figure to compare on a loaded machine.
 *
 * BENCH_SUBSCRIBERS (100), BENCH_WRITES (50), BENCH_ROWS (20: rows the query returns).
 */
import os from "node:os";
import { startFixtureBackend } from "../test/helpers/inprocess.js";
import { RawSync } from "../test/helpers/rawsync.js";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
const WRITES = Number(process.env.BENCH_WRITES ?? 50);
const ROWS = Number(process.env.BENCH_ROWS ?? 20);

async function main() {
  const { backend: b, stop } = await startFixtureBackend("fanout-bench");
  const n = 777_777;
  for (let i = 0; i < ROWS; i++) await b.engine.call("mutation", "fixture:add", { text: `row ${i} `.padEnd(200, "x"), n });
  const sockets = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => RawSync.open(b.url)));
  const seen = (s: RawSync, rows: number) =>
    s.next((m) => m.type === "Transition" && m.modifications.some((u: { value?: unknown[] }) => u.value?.length === rows), 60_000);
  for (const s of sockets) {
    s.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 1, udfPath: "fixture:byN", args: [{ n }] }] });
  }
  await Promise.all(sockets.map((s) => seen(s, ROWS)));
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 1; i <= WRITES; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const all = Promise.all(sockets.map((s) => seen(s, ROWS + i)));
    await b.engine.call("mutation", "fixture:add", { text: `write ${i}`, n });
    await all;
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    for (const s of sockets) s.messages.length = 0;
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `${SUBSCRIBERS} subscribers, ${ROWS + 1}+ rows, ${WRITES} writes: CPU per write median ${med(cpu).toFixed(1)} ms ` +
      `(mean ${mean(cpu).toFixed(1)}), wall median ${med(wall).toFixed(1)} ms; load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cpus`,
  );
  for (const s of sockets) s.close();
  await stop();
  process.exit(0);
}

void main();
