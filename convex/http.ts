import { httpRouter } from "convex/server";
import { auth } from "./auth";
import { registerApiRoutes } from "./model/http/api";
import { registerKeyRoutes } from "./model/http/keys";
import { registerMcpRoutes } from "./model/http/mcp";
import { registerOAuthRoutes } from "./model/http/oauth";

const http = httpRouter();

auth.addHttpRoutes(http); // sign-in (OIDC discovery, JWKS for @convex-dev/auth)
registerKeyRoutes(http); // keyhole's public JWKS
registerApiRoutes(http); // the JSON HTTP API under /api/
registerMcpRoutes(http); // the MCP endpoint /mcp
registerOAuthRoutes(http); // OAuth connection callbacks

export default http;
