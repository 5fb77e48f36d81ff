/**
 * The keyhole CLI: `keyhole login`, `keyhole token create|list|get|edit|revoke|regenerate`,
 * `keyhole session create|refresh|end`, `keyhole org tokens|revoke-token|invite|accept|policy`,
 * `keyhole mcp config`. Built on ConvexHttpClient. Every command takes --json.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage. Errors are one line on stderr.
 */
import { Command, CommanderError, Option } from "commander";
import { registerAuthCommands } from "./commands/auth";
import { registerMcpCommands } from "./commands/mcp";
import { registerOrgCommands } from "./commands/org";
import { registerSessionCommands } from "./commands/session";
import { registerTokenCommands } from "./commands/token";
import { currentUrl, type GlobalOptions } from "./lib/client";
import { CliError, describeError, UsageError } from "./lib/errors";
import { Interrupted } from "./lib/prompt";
import { VERSION } from "./lib/version";

export { VERSION } from "./lib/version";

export function buildProgram(): Command {
  const program = new Command("keyhole");
  program
    .description("keyhole: personal access tokens and agent sessions for a Convex app")
    .version(VERSION, "-V, --version")
    .addOption(new Option("--url <url>", "the keyhole backend (default: $KEYHOLE_URL, the stored login's, or http://127.0.0.1:3210)"))
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      "after",
      `
Environment:
  KEYHOLE_URL    backend URL (e.g. http://127.0.0.1:3210)
  KEYHOLE_TOKEN  a PAT or agent session token for "session" and "whoami"
                 (token management always needs keyhole login)
  XDG_CONFIG_HOME  credentials live in $XDG_CONFIG_HOME/keyhole/credentials.json

Exit codes: 0 ok, 1 failure, 2 usage error.`,
    );
  const globals = () => program.opts<GlobalOptions>();
  registerAuthCommands(program, globals);
  registerTokenCommands(program, globals);
  registerSessionCommands(program, globals);
  registerMcpCommands(program, globals);
  registerOrgCommands(program, globals);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  // `keyhole token list | head -1`: a closed pipe is not an error worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help/version: 0; anything commander rejects is a usage error (its message is already printed).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof Interrupted) return 130;
    const code = e instanceof UsageError ? 2 : 1;
    const message = e instanceof UsageError || e instanceof CliError ? e.message : describeError(e, currentUrl());
    process.stderr.write(`error: ${message}\n`);
    if (process.env.KEYHOLE_DEBUG && e instanceof Error && !(e instanceof UsageError || e instanceof CliError)) {
      process.stderr.write(`${e.stack}\n`);
    }
    return code;
  }
}
