/**
 * Durations on the command line: `30s`, `30m`, `12h`, `90d`, `2w`, `1y`
 * (365 days), or a plain number of seconds. Returns whole seconds.
 */
const UNITS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  y: 365 * 86_400,
};

export class DurationError extends Error {}

export function parseDuration(text: string): number {
  const m = /^\s*(\d+)\s*([smhdwy]?)\s*$/.exec(text);
  if (!m) {
    throw new DurationError(
      `"${text}" is not a duration: use a whole number with a unit, e.g. 30m, 12h, 90d, 1y (or plain seconds)`,
    );
  }
  const seconds = Number(m[1]) * UNITS[m[2] || "s"];
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new DurationError(`"${text}" is not a usable duration: it must be greater than zero`);
  }
  return seconds;
}

/** Seconds back to the largest exact unit: 7776000 → "90d". */
export function formatDuration(seconds: number): string {
  for (const unit of ["y", "w", "d", "h", "m"]) {
    if (seconds % UNITS[unit] === 0) return `${seconds / UNITS[unit]}${unit}`;
  }
  return `${seconds}s`;
}
