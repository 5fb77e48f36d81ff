/**
 * The login kept between runs: `$XDG_CONFIG_HOME/keyhole/credentials.json`
 * (default `~/.config/keyhole/`), directory 0700, file 0600, written
 * atomically (temp file + rename) so a crash never leaves half a file.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { CliError } from "./errors";

export type Credentials = {
  url: string;
  token: string;
  refreshToken: string;
  email: string;
};

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".config");
  return join(base, "keyhole");
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "credentials.json");
}

export function loadCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const path = credentialsPath(env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const c = JSON.parse(text) as Partial<Credentials>;
    if (typeof c.url === "string" && typeof c.token === "string" && typeof c.refreshToken === "string") {
      return { url: c.url, token: c.token, refreshToken: c.refreshToken, email: String(c.email ?? "") };
    }
  } catch {
    // fall through
  }
  throw new CliError(`${path} is damaged: run keyhole logout, then keyhole login`);
}

export function saveCredentials(creds: Credentials, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = credentialsPath(env);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(creds, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
  return path;
}

/** True when a file was removed. */
export function deleteCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  const path = credentialsPath(env);
  try {
    rmSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new CliError(`cannot remove ${path}: ${(e as Error).message}`);
  }
}

/** `exp` of a JWT in ms, read without verifying (only to decide when to refresh). */
export function jwtExpiresAt(token: string): number | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const payload = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}
