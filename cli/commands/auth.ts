/** keyhole login | logout | whoami */
import type { Command } from "commander";
import { api } from "../../convex/_generated/api.js";
import { agentClient, DEFAULT_URL, explicitUrl, type GlobalOptions, loadCredentialsQuietly, makeClient } from "../lib/client";
import { credentialsPath, deleteCredentials, loadCredentials, saveCredentials } from "../lib/credentials";
import { CliError, UsageError } from "../lib/errors";
import { fields, note, out, printJson } from "../lib/output";
import { promptHidden, promptLine, readStdinLine, stdinIsTTY } from "../lib/prompt";
import { userAgent } from "../lib/version";

type LoginOptions = { email?: string; signup?: boolean; json?: boolean };

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function registerAuthCommands(program: Command, globals: () => GlobalOptions): void {
  loginCommand(program, globals);
  logoutCommand(program);
  whoamiCommand(program, globals);
}

/** `login`: signs in with email and password and stores the credentials. */
function loginCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("login")
    .description("sign in with email and password and store the credentials for later commands")
    .option("--email <email>", "the account's email (prompted for on a terminal)")
    .option("--signup", "create the account first (password: at least 8 characters)")
    .option("--json", "print {url, email, credentials, device} on stdout")
    .addHelpText(
      "after",
      `
On a terminal, prompts for the email and the password (not echoed).
Otherwise reads the password from the first line of stdin and needs --email:
  printf '%s\\n' "$PASSWORD" | keyhole login --email me@example.com

Credentials go to $XDG_CONFIG_HOME/keyhole/credentials.json (default
~/.config/keyhole/), mode 0600, and are refreshed automatically.`,
    )
    .action(async (opts: LoginOptions) => {
      const url = explicitUrl(globals()) ?? loadCredentialsQuietly()?.url ?? DEFAULT_URL;
      const interactive = stdinIsTTY();
      let email = opts.email?.trim();
      let password: string;
      if (interactive) {
        if (!email) email = await promptLine("Email: ");
        if (!email) throw new UsageError("an email is required");
        password = await promptHidden("Password: ");
        if (opts.signup) {
          const again = await promptHidden("Repeat password: ");
          if (again !== password) throw new CliError("the passwords do not match");
        }
      } else {
        if (!email) throw new UsageError("--email is required when stdin is not a terminal (the password is read from stdin)");
        password = await readStdinLine();
      }
      if (!EMAIL.test(email)) throw new UsageError(`"${email}" is not an email address`);
      if (password.length === 0) throw new UsageError("the password is empty");

      const client = makeClient(url);
      const result = await client.action(api.auth.signIn, {
        provider: "password",
        params: { email, password, flow: opts.signup ? "signUp" : "signIn" },
      });
      const tokens = result.tokens;
      if (!tokens) throw new CliError("sign-in did not complete (no session was issued)");
      const path = saveCredentials({ url, token: tokens.token, refreshToken: tokens.refreshToken, email });
      // The device list shows this sign-in as "keyhole CLI on <OS>" with its IP (from the request itself).
      const device = await makeClient(url, tokens.token)
        .mutation(api.auth.createWebSession, { userAgent: userAgent() })
        .then(() => userAgent(), () => null); // not fatal: the sign-in is listed anyway, without device facts
      if (opts.json) printJson({ url, email, credentials: path, device });
      note(`Signed in to ${url} as ${email}`);
      note(`Credentials saved to ${path}`);
    });
}

/** `logout`: ends the server session when reachable and deletes the stored credentials. */
function logoutCommand(program: Command): void {
  program
    .command("logout")
    .description("sign out (ends the session on the server when reachable) and delete the stored credentials")
    .option("--json", "print {signedOut, url, serverSignOut}")
    .action(async (opts: { json?: boolean }) => {
      const creds = loadCredentials();
      if (creds === null) {
        if (opts.json) printJson({ signedOut: false, url: null, serverSignOut: false });
        note("Not signed in.");
        return;
      }
      let serverSignOut = true;
      try {
        await makeClient(creds.url, creds.token).action(api.auth.signOut, {});
      } catch {
        serverSignOut = false; // best effort: the local credentials go away regardless
      }
      deleteCredentials();
      if (opts.json) printJson({ signedOut: true, url: creds.url, serverSignOut });
      note(`Signed out of ${creds.url} (removed ${credentialsPath()})`);
    });
}

/** `whoami`: shows who the CLI acts as. */
function whoamiCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("whoami")
    .description("show who the CLI acts as (KEYHOLE_TOKEN when set, else the stored login)")
    .option("--json", "print JSON: {url, source, kind, userId, email, name, tokenId?, sessionId?, agentId?}")
    .action(async (opts: { json?: boolean }) => {
      const { client, url, source, email: storedEmail } = await agentClient(globals());
      const viewer = await client.query(api.auth.viewer, {});
      let email: string | null = storedEmail ?? null;
      let name: string | null = null;
      try {
        const me = await client.query(api.users.me, {});
        email = me.email ?? email;
        name = me.name ?? null;
      } catch {
        // users:me is optional detail (a narrowly scoped token may not read it)
      }
      const info = { url, source, ...viewer, email, name };
      if (opts.json) {
        printJson(info);
        return;
      }
      const pairs: [string, string][] = [
        ["user", email ?? viewer.userId],
        ["as", viewer.kind === "user" ? "signed-in user" : viewer.kind === "pat" ? "personal access token" : "agent session"],
      ];
      if (viewer.tokenId) pairs.push(["token id", viewer.tokenId]);
      if (viewer.sessionId) pairs.push(["session id", viewer.sessionId]);
      if (viewer.agentId) pairs.push(["agent", viewer.agentId]);
      pairs.push(["url", url], ["via", source === "login" ? "keyhole login" : "KEYHOLE_TOKEN"]);
      out(fields(pairs));
    });
}
