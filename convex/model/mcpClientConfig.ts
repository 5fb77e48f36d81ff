/**
 * Ready-to-paste configurations for MCP clients that reach keyhole's `/mcp`
 * through `mcp-remote` (Claude Desktop, Claude Code, Cursor …). Pure text, no
 * Convex imports: the dashboard's once-view and `keyhole mcp config` both use it.
 *
 * The token goes in an environment variable (`KEYHOLE_TOKEN`, with the
 * "Bearer " prefix) that mcp-remote expands inside `--header`; there is no
 * space after "Authorization:" because some clients split arguments on spaces.
 */
export const MCP_SERVER_NAME = "keyhole";
export const TOKEN_PLACEHOLDER = "<your keyhole token>";

export type McpServerEntry = {
  command: "npx";
  args: string[];
  env: { KEYHOLE_TOKEN: string };
};

/** One `mcpServers` entry: npx mcp-remote <mcpUrl> with the token in KEYHOLE_TOKEN. */
export function mcpServerEntry(mcpUrl: string, token: string = TOKEN_PLACEHOLDER): McpServerEntry {
  return {
    command: "npx",
    args: ["-y", "mcp-remote", mcpUrl, "--header", "Authorization:${KEYHOLE_TOKEN}", "--transport", "http-only"],
    env: { KEYHOLE_TOKEN: `Bearer ${token}` },
  };
}

/** The `claude_desktop_config.json` (and Cursor `mcp.json`) snippet, pretty-printed. */
export function claudeDesktopConfig(mcpUrl: string, token?: string): string {
  return JSON.stringify({ mcpServers: { [MCP_SERVER_NAME]: mcpServerEntry(mcpUrl, token) } }, null, 2);
}

/** A shell command that adds the same server to Claude Code (single-quoted: nothing is expanded). */
export function claudeCodeCommand(mcpUrl: string, token?: string): string {
  const json = JSON.stringify(mcpServerEntry(mcpUrl, token));
  return `claude mcp add-json ${MCP_SERVER_NAME} '${json.replace(/'/g, "'\\''")}'`;
}
