import { httpRouter, type HttpRouter } from "convex/server";
import { auth } from "./auth";
import { registerApiRoutes } from "./model/http/api";
import { registerKeyRoutes } from "./model/http/keys";
import { registerMcpRoutes } from "./model/http/mcp";
import { registerOAuthRoutes } from "./model/http/oauth";
import { registerOAuthServerRoutes } from "./model/oauthServer/http";

const http = httpRouter();

// @convex-dev/auth's routes: its JWKS (sign-ins verify against it, see
// auth.config.ts) and the GitHub sign-in callbacks — but not its three-field
// /.well-known/openid-configuration. keyhole is an OAuth authorization server,
// not an OpenID provider: a partial OIDC document on the origin makes
// OIDC-probing clients (the MCP SDK, mcp-remote) fail on every 401.
const OIDC_DISCOVERY = "/.well-known/openid-configuration";
auth.addHttpRoutes({
  route: (spec: Parameters<HttpRouter["route"]>[0]) => {
    if ("path" in spec && spec.path === OIDC_DISCOVERY) return;
    http.route(spec);
  },
} as HttpRouter);
registerKeyRoutes(http); // keyhole's public JWKS
registerApiRoutes(http); // the JSON HTTP API under /api/
registerMcpRoutes(http); // the MCP endpoint /mcp
registerOAuthRoutes(http); // OAuth connection callbacks
registerOAuthServerRoutes(http); // keyhole as the OAuth authorization server for /mcp and /api

export default http;
