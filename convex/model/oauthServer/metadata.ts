/**
 * Discovery documents.
 *
 * - RFC 8414 authorization-server metadata at `/.well-known/oauth-authorization-server`
 *   (the issuer is the site origin, so that is the one URL every client probes
 *   first: the MCP SDK, mcp-remote, openid-client with `algorithm: "oauth2"`).
 * - RFC 9728 protected-resource metadata at the path-suffixed well-known URL of
 *   each resource: `/.well-known/oauth-protected-resource/mcp` and `/…/api`.
 *   The root `/.well-known/oauth-protected-resource` is absent (404): the
 *   origin itself is not a resource, and a client probing it falls through to
 *   the path-suffixed document first anyway (MCP spec, "Protected Resource
 *   Metadata Discovery").
 *
 * There is deliberately no `/.well-known/openid-configuration`: keyhole is
 * not an OpenID provider, and a partial one makes OIDC-first clients fail
 * (convex/http.ts leaves @convex-dev/auth's out; sign-ins verify against the
 * JWKS directly, see convex/auth.config.ts).
 */
import {
  AS_METADATA_PATH,
  AUTHORIZE_PATH,
  endpoint,
  INTROSPECT_PATH,
  issuer,
  OPEN_CORS,
  PRM_PATH,
  REGISTER_PATH,
  RESOURCE_PATHS,
  type ResourceName,
  resourceUrl,
  REVOKE_PATH,
  SCOPES_SUPPORTED,
  TOKEN_PATH,
} from "./config";

export const CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"] as const;

/** RFC 8414 §2 (plus RFC 9207, RFC 7009, RFC 7662 and the CIMD draft's flag). */
export function authorizationServerMetadata(): Record<string, unknown> {
  return {
    issuer: issuer(),
    authorization_endpoint: endpoint(AUTHORIZE_PATH),
    token_endpoint: endpoint(TOKEN_PATH),
    registration_endpoint: endpoint(REGISTER_PATH),
    revocation_endpoint: endpoint(REVOKE_PATH),
    introspection_endpoint: endpoint(INTROSPECT_PATH),
    scopes_supported: [...SCOPES_SUPPORTED],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
  };
}

/** RFC 9728 §2 for one of keyhole's resources. */
export function protectedResourceMetadata(name: ResourceName): Record<string, unknown> {
  return {
    resource: resourceUrl(name),
    resource_name: name === "mcp" ? "keyhole MCP" : "keyhole HTTP API",
    authorization_servers: [issuer()],
    scopes_supported: [...SCOPES_SUPPORTED],
    bearer_methods_supported: ["header"],
  };
}

/** The discovery routes: path → document. */
export function discoveryDocuments(): Record<string, () => Record<string, unknown>> {
  const out: Record<string, () => Record<string, unknown>> = {
    [AS_METADATA_PATH]: authorizationServerMetadata,
  };
  for (const name of Object.keys(RESOURCE_PATHS) as ResourceName[]) {
    out[`${PRM_PATH}${RESOURCE_PATHS[name]}`] = () => protectedResourceMetadata(name);
  }
  return out;
}

export function metadataResponse(doc: Record<string, unknown>): Response {
  return new Response(JSON.stringify(doc), {
    status: 200,
    headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=300", ...OPEN_CORS },
  });
}
