/**
 * `npm run backend` — the embedded backend alone (no dashboard).
 * Prints one machine-readable line once ready (used by test/helpers/backend.ts):
 *   KEYHOLE_READY {"url":...,"siteUrl":...,"pid":...,"startupMs":...}
 */
import { backendOptions, parseFlagsOrExit } from "./args.js";
import { installConsoleRedaction } from "./log.js";
import { startBackend } from "./backend.js";

installConsoleRedaction();

const flags = parseFlagsOrExit(process.argv.slice(2));

try {
  const backend = await startBackend(backendOptions(flags));
  console.log(
    `KEYHOLE_READY ${JSON.stringify({ url: backend.url, siteUrl: backend.siteUrl, pid: process.pid, startupMs: backend.startupMs, dataDir: backend.dataDir })}`,
  );
  console.log(`[keyhole] backend ready in ${backend.startupMs} ms: API ${backend.url}, HTTP actions ${backend.siteUrl}, data ${backend.dataDir}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`[keyhole] ${signal}: stopping`);
    backend.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "EADDRINUSE") console.error(`[keyhole] error: port in use (${err.message}); pass --port/--site-port`);
  else console.error(`[keyhole] error: ${err.stack ?? err.message}`);
  process.exit(1);
}
