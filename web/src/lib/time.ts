import { useEffect, useState } from "react";

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "always" });

const MINUTE = 60_000;
const HOUR = 3_600_000;
export const DAY_MS = 86_400_000;

/**
 * "3 minutes ago", "in 29 days", "just now". Each unit is used only while its
 * rounded count stays below the next unit, so it never says "in 24 hours"
 * (that is "in 1 day") or "in 60 minutes".
 */
export function relativeTime(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  if (abs < MINUTE) return diff <= 0 ? "just now" : "in under a minute";
  const sign = Math.sign(diff);
  const minutes = Math.round(abs / MINUTE);
  if (minutes < 60) return rtf.format(sign * minutes, "minute");
  const hours = Math.round(abs / HOUR);
  if (hours < 24) return rtf.format(sign * hours, "hour");
  const days = Math.round(abs / DAY_MS);
  if (days < 60) return rtf.format(sign * days, "day");
  const months = Math.round(abs / (30 * DAY_MS));
  if (months < 12) return rtf.format(sign * months, "month");
  return rtf.format(sign * Math.max(1, Math.round(abs / (365 * DAY_MS))), "year");
}

/** For things that already happened: never "in …" because the clock ticked late. */
export function ago(at: number, now: number): string {
  return relativeTime(Math.min(at, now), now);
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function absoluteTime(at: number): string {
  return dtf.format(new Date(at));
}

/**
 * "Expires soon": the last quarter of the token's life, and at most the last
 * 7 days. A 7-day token is not "soon" from creation; a 1-year one warns a week ahead.
 */
export function expiresSoon(t: { createdAt: number; expiresAt: number }, now: number): boolean {
  const left = t.expiresAt - now;
  return left > 0 && left < Math.min(7 * DAY_MS, (t.expiresAt - t.createdAt) / 4);
}

const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * The current time, re-rendered every `intervalMs` so relative times stay true,
 * and exactly at each of `deadlines` (e.g. expiry times), so a status flips to
 * "expired" on screen the moment it happens — live queries do not re-run as
 * time passes.
 */
export function useNow(intervalMs = 15_000, deadlines: readonly number[] = []): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(id);
  }, [intervalMs]);
  const next = deadlines.reduce((m, d) => (d > now && d < m ? d : m), Infinity);
  useEffect(() => {
    if (next === Infinity) return;
    const id = window.setTimeout(() => setNow(Date.now()), Math.max(1, Math.min(MAX_TIMEOUT, next - Date.now() + 1)));
    return () => window.clearTimeout(id);
  }, [next]);
  return now;
}
