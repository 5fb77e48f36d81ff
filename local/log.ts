/**
 * The backend's logger. Every line goes through `redact`, so a JWT, a PEM
 * block or a private JWK can never reach the logs even if an error message
 * happens to contain one.
 */
import { format } from "node:util";

export type Logger = {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
};

const PATTERNS: RegExp[] = [
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // JWTs (header starts with `{"`)
  /-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g, // PEM blocks
  /"d"\s*:\s*"[A-Za-z0-9_-]+"/g, // private JWK members
  /\bk\d+:[A-Za-z0-9+/]{40,}={0,2}/g, // encryption keys
  /\b(Bearer|Convex)\s+[A-Za-z0-9._~+/=-]{16,}/gi, // Authorization values
  /\bkhr_[A-Za-z0-9_-]{20,}/g, // agent-session refresh tokens
];

export function redact(line: string): string {
  let out = line;
  for (const p of PATTERNS) out = out.replace(p, "[redacted]");
  return out;
}

export function createLogger(opts: { quiet?: boolean; prefix?: string } = {}): Logger {
  const prefix = opts.prefix ?? "[keyhole]";
  const write = (stream: NodeJS.WriteStream, level: string, msg: string) => {
    stream.write(`${prefix} ${level}${redact(msg)}\n`);
  };
  return {
    info: (m) => {
      if (!opts.quiet) write(process.stdout, "", m);
    },
    warn: (m) => write(process.stderr, "warning: ", m),
    error: (m) => write(process.stderr, "error: ", m),
  };
}

/**
 * Routes console output (including what functions print) through `redact`.
 * Installed by the CLI entry points, not by startBackend() (tests own their console).
 */
export function installConsoleRedaction(): void {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => original(redact(format(...args)));
  }
}
