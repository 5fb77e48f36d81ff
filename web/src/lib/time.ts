import { useEffect, useState } from "react";

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "always" });

/** "3 minutes ago", "in 29 days", "just now". */
export function relativeTime(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  if (abs < 60_000) return diff <= 0 ? "just now" : "in under a minute";
  if (abs < 3_600_000) return rtf.format(Math.round(diff / 60_000), "minute");
  if (abs < 86_400_000) return rtf.format(Math.round(diff / 3_600_000), "hour");
  if (abs < 60 * 86_400_000) return rtf.format(Math.round(diff / 86_400_000), "day");
  if (abs < 365 * 86_400_000) return rtf.format(Math.round(diff / (30 * 86_400_000)), "month");
  return rtf.format(Math.round(diff / (365 * 86_400_000)), "year");
}

/** For things that already happened: never "in …" because the clock ticked late. */
export function ago(at: number, now: number): string {
  return relativeTime(Math.min(at, now), now);
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function absoluteTime(at: number): string {
  return dtf.format(new Date(at));
}

/** The current time, re-rendering every `intervalMs` so relative times stay true. */
export function useNow(intervalMs = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(id);
  }, [intervalMs]);
  return now;
}

export const DAY_MS = 86_400_000;
