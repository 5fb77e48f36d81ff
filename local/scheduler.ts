/**
 * Time-based work the engine doesn't do by itself:
 * - crons from convex/crons.ts (`export default crons` from `cronJobs()`):
 *   interval, hourly, daily, weekly, monthly and 5-field cron expressions,
 *   all in UTC, each run as the internal function it names.
 * - scheduled functions that were pending when the process last stopped.
 *   convex-test arms a timer when a function is scheduled; after a restart
 *   those timers are gone, so we re-arm every `_scheduled_functions` job that
 *   is still pending (and re-run mutations that were in progress: their
 *   transaction never committed; in-progress actions are marked failed, as
 *   Convex does for actions interrupted by a restart).
 */
import { jsonToConvex, type Value } from "convex/values";
import type { Engine } from "./engine.js";
import { canonicalizeUdfPath } from "./modules.js";
import type { Logger } from "./log.js";

const MAX_TIMER = 2 ** 31 - 1;

type Schedule =
  | { type: "interval"; seconds?: number; minutes?: number; hours?: number }
  | { type: "hourly"; minuteUTC?: number }
  | { type: "daily"; hourUTC: number; minuteUTC?: number }
  | { type: "weekly"; dayOfWeek: string; hourUTC: number; minuteUTC?: number }
  | { type: "monthly"; day: number; hourUTC: number; minuteUTC?: number }
  | { type: "cron"; cron: string };

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** Parses one cron field ("*", "5", "1-5", "*\/15", "1,2,10-20/5"). */
function parseField(field: string, min: number, max: number, names?: string[]): Set<number> {
  const out = new Set<number>();
  for (const part of field.toLowerCase().split(",")) {
    const [rangePart, stepPart] = part.split("/") as [string, string | undefined];
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad cron step in "${field}"`);
    const num = (s: string) => {
      const i = names ? names.findIndex((n) => n.startsWith(s) && s.length >= 3) : -1;
      const v = i >= 0 ? i : Number(s);
      if (!Number.isInteger(v) || v < min || v > max + (names ? 1 : 0)) throw new Error(`bad cron value "${s}"`);
      return v;
    };
    let lo: number, hi: number;
    if (rangePart === "*") {
      lo = min;
      hi = max;
    } else if (rangePart.includes("-")) {
      const [a, b] = rangePart.split("-") as [string, string];
      lo = num(a);
      hi = num(b);
    } else {
      lo = num(rangePart);
      hi = stepPart === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(names && v === 7 ? 0 : v); // 7 = Sunday
  }
  return out;
}

export type CronSpec = { minutes: Set<number>; hours: Set<number>; doms: Set<number>; months: Set<number>; dows: Set<number>; domStar: boolean; dowStar: boolean };

export function parseCron(expr: string): CronSpec {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) throw new Error(`cron expression must have 5 fields: "${expr}"`);
  return {
    minutes: parseField(f[0]!, 0, 59),
    hours: parseField(f[1]!, 0, 23),
    doms: parseField(f[2]!, 1, 31),
    months: parseField(f[3]!, 1, 12),
    dows: parseField(f[4]!, 0, 6, DAYS.map((d) => d.slice(0, 3))),
    domStar: f[2] === "*",
    dowStar: f[4] === "*",
  };
}

/** The first minute strictly after `after` (ms) that matches, in UTC. */
export function nextCronTime(spec: CronSpec, after: number): number {
  const d = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  for (let i = 0; i < 366 * 24 * 60 * 5; i++) {
    const dayOk = () => {
      const dom = spec.doms.has(d.getUTCDate());
      const dow = spec.dows.has(d.getUTCDay());
      // Standard cron: if both are restricted, either may match.
      if (!spec.domStar && !spec.dowStar) return dom || dow;
      return dom && dow;
    };
    if (!spec.months.has(d.getUTCMonth() + 1) || !dayOk()) {
      d.setUTCHours(24, 0, 0, 0);
      continue;
    }
    if (!spec.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!spec.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return d.getTime();
  }
  throw new Error("cron expression never matches");
}

export function scheduleToCron(s: Schedule): string | null {
  const m = (x?: number) => String(x ?? 0);
  switch (s.type) {
    case "hourly":
      return `${m(s.minuteUTC)} * * * *`;
    case "daily":
      return `${m(s.minuteUTC)} ${s.hourUTC} * * *`;
    case "weekly":
      return `${m(s.minuteUTC)} ${s.hourUTC} * * ${DAYS.indexOf(s.dayOfWeek)}`;
    case "monthly":
      return `${m(s.minuteUTC)} ${s.hourUTC} ${s.day} * *`;
    case "cron":
      return s.cron;
    default:
      return null;
  }
}

export class Scheduler {
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {}

  private at(when: number, fn: () => void) {
    if (this.stopped) return;
    const delay = when - Date.now();
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.stopped) return;
        if (delay > MAX_TIMER) this.at(when, fn);
        else fn();
      },
      Math.max(0, Math.min(delay, MAX_TIMER)),
    );
    this.timers.add(timer);
  }

  /** Starts every cron in convex/crons.ts; returns how many. */
  async startCrons(): Promise<number> {
    const mod = await this.engine.loadModule("crons");
    const crons = (mod?.default as { crons?: Record<string, { name: string; args: unknown[]; schedule: Schedule }> } | undefined)
      ?.crons;
    if (!crons) return 0;
    let n = 0;
    for (const [id, job] of Object.entries(crons)) {
      try {
        this.armCron(id, job.name, (jsonToConvex((job.args?.[0] ?? {}) as never) ?? {}) as Record<string, Value>, job.schedule);
        n++;
      } catch (e) {
        this.log.error(`cron "${id}": ${(e as Error).message}`);
      }
    }
    return n;
  }

  private armCron(id: string, name: string, args: Record<string, Value>, schedule: Schedule) {
    let next: (after: number) => number;
    if (schedule.type === "interval") {
      const ms = ((schedule.seconds ?? 0) + (schedule.minutes ?? 0) * 60 + (schedule.hours ?? 0) * 3600) * 1000;
      if (!(ms > 0)) throw new Error("interval must be positive");
      next = (after) => after + ms;
    } else {
      const spec = parseCron(scheduleToCron(schedule)!);
      next = (after) => nextCronTime(spec, after);
    }
    const run = (when: number) => {
      this.at(when, () => {
        // Schedule the next run first, so a slow or failing run never stops the cron.
        run(next(Math.max(when, Date.now())));
        this.engine.runInternal(name, args).catch((e: unknown) => {
          this.log.error(`cron "${id}" (${name}) failed: ${(e as Error).message}`);
        });
      });
    };
    run(next(Date.now()));
  }

  /** Re-arms scheduled functions left pending by a previous run. */
  async resumeScheduledFunctions(): Promise<number> {
    const jobs: Array<{ id: string; name: string; args: Record<string, Value>; at: number; state: string }> = [];
    for (const [id, doc] of this.engine.documents()) {
      if (!id.endsWith("_scheduled_functions")) continue;
      const d = doc as unknown as { name: string; args: Record<string, Value>[]; scheduledTime: number; state: { kind: string } };
      if (d.state.kind === "pending" || d.state.kind === "inProgress") {
        jobs.push({ id, name: d.name, args: d.args[0] ?? {}, at: d.scheduledTime, state: d.state.kind });
      }
    }
    for (const job of jobs) {
      let isAction = false;
      if (job.state === "inProgress") {
        const c = canonicalizeUdfPath(job.name);
        const mod = await this.engine.loadModule(c.modulePath).catch(() => null);
        isAction = Boolean((mod?.[c.exportName] as { isAction?: boolean } | undefined)?.isAction);
      }
      if (job.state === "inProgress" && isAction) {
        await this.setState(job.id, { kind: "failed" }, true);
        continue;
      }
      if (job.state === "inProgress") await this.setState(job.id, { kind: "pending" });
      this.at(job.at, () => void this.runJob(job.id, job.name, job.args));
    }
    return jobs.length;
  }

  private async setState(id: string, state: Record<string, unknown>, completed = false) {
    await this.engine.transact((db) => {
      if (db.get("_scheduled_functions", id) === null) return;
      db.patch("_scheduled_functions", id, completed ? { state, completedTime: Date.now() } : { state });
    });
  }

  private async runJob(id: string, name: string, args: Record<string, Value>) {
    const start = await this.engine.transact((db) => {
      const job = db.get("_scheduled_functions", id);
      if (!job || job.state.kind !== "pending") return false;
      db.patch("_scheduled_functions", id, { state: { kind: "inProgress" } });
      return true;
    });
    if (!start) return;
    try {
      await this.engine.runInternal(name, args);
      await this.setState(id, { kind: "success" }, true);
    } catch (e) {
      this.log.error(`scheduled function ${name} failed: ${(e as Error).message}`);
      await this.setState(id, { kind: "failed" }, true);
    }
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
