/** keyhole mcp config — the MCP client configuration for a token (mcp-remote, for Claude Desktop and Claude Code). */
import { type Command, Option } from "commander";
import { api } from "../../convex/_generated/api.js";
import { claudeCodeCommand, claudeDesktopConfig, mcpServerEntry, MCP_SERVER_NAME } from "../../convex/model/mcpClientConfig";
import { explicitUrl, type GlobalOptions, loadCredentialsQuietly, loginClient, normalizeUrl } from "../lib/client";
import { CliError } from "../lib/errors";
import { note, out, printJson } from "../lib/output";
import { readStdin, stdinIsTTY } from "../lib/prompt";
import { secretFromInput } from "./session";

const CLIENTS = ["all", "claude-desktop", "claude-code"] as const;
type Client = (typeof CLIENTS)[number];

/** A Convex Cloud deployment's site: `https://x.convex.cloud` → `https://x.convex.site`; null for other hosts. */
export function cloudSite(deploymentUrl: string): string | null {
  const u = new URL(deploymentUrl);
  return u.protocol === "https:" && u.hostname.endsWith(".convex.cloud") ? `https://${u.hostname.replace(/\.convex\.cloud$/, ".convex.site")}` : null;
}

/** --mcp-url, else the signed-in deployment's site URL, else a Convex Cloud deployment's `.convex.site`. */
async function resolveMcpUrl(opts: { mcpUrl?: string }, globals: GlobalOptions): Promise<string> {
  if (opts.mcpUrl !== undefined) return `${normalizeUrl(opts.mcpUrl, "--mcp-url").replace(/\/mcp$/, "")}/mcp`;
  if (loadCredentialsQuietly() !== null) {
    const { client } = await loginClient(globals);
    return (await client.query(api.dashboard.siteInfo, {})).mcpUrl;
  }
  const explicit = explicitUrl(globals);
  const site = explicit === undefined ? null : cloudSite(explicit);
  if (site !== null) return `${site}/mcp`;
  throw new CliError("cannot tell where /mcp is: run keyhole login, or pass --mcp-url (e.g. https://<deployment>.convex.site/mcp)");
}

export function registerMcpCommands(program: Command, globals: () => GlobalOptions): void {
  const mcp = program.command("mcp").description("connect MCP clients (Claude Desktop, Claude Code, Cursor) to keyhole's /mcp");

  mcp
    .command("config")
    .description("print the MCP client configuration for a token (mcp-remote with the real /mcp URL)")
    .addOption(new Option("--client <client>", "which configuration").choices(CLIENTS).default("all"))
    .option("--mcp-url <url>", "the MCP endpoint (default: the signed-in deployment's, or <name>.convex.site for a Convex Cloud --url)")
    .option("--json", "print {mcpUrl, server, claudeDesktop, claudeCode} on stdout")
    .addHelpText(
      "after",
      `
The token is read from stdin (its text, or the JSON of "token create --json"),
else from KEYHOLE_TOKEN; without one the configuration has a placeholder.

  keyhole token create --name claude --type MCP --scope acme/site=work:read --json | keyhole mcp config
  keyhole mcp config --client claude-code          # placeholder token, URL of the signed-in deployment`,
    )
    .action(async (opts: { client: Client; mcpUrl?: string; json?: boolean }) => {
      let token: string | undefined;
      if (!stdinIsTTY()) token = secretFromInput(await readStdin(), "token");
      token ??= process.env.KEYHOLE_TOKEN?.trim().replace(/^Bearer\s+/i, "") || undefined;
      const mcpUrl = await resolveMcpUrl(opts, globals());
      if (opts.json) {
        printJson({
          mcpUrl,
          server: { name: MCP_SERVER_NAME, ...mcpServerEntry(mcpUrl, token) },
          claudeDesktop: JSON.parse(claudeDesktopConfig(mcpUrl, token)) as unknown,
          claudeCode: claudeCodeCommand(mcpUrl, token),
        });
      } else {
        if (opts.client !== "claude-code") {
          note("Claude Desktop: add this to claude_desktop_config.json (Cursor: ~/.cursor/mcp.json), then restart it:");
          out(claudeDesktopConfig(mcpUrl, token));
        }
        if (opts.client !== "claude-desktop") {
          note("Claude Code: run");
          out(claudeCodeCommand(mcpUrl, token));
        }
      }
      note(
        token === undefined
          ? "Replace <your keyhole token> with an MCP token (keyhole token create --type MCP ...)."
          : "This configuration holds the token: keep it out of shared files and shell history.",
      );
    });
}
