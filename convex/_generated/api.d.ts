/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as audit from "../audit.js";
import type * as auth from "../auth.js";
import type * as crons from "../crons.js";
import type * as dashboard from "../dashboard.js";
import type * as governance from "../governance.js";
import type * as http from "../http.js";
import type * as httpInternal from "../httpInternal.js";
import type * as items from "../items.js";
import type * as keys from "../keys.js";
import type * as maintenance from "../maintenance.js";
import type * as model_activity from "../model/activity.js";
import type * as model_agentRefresh from "../model/agentRefresh.js";
import type * as model_agentSessions from "../model/agentSessions.js";
import type * as model_audit from "../model/audit.js";
import type * as model_auditLog from "../model/auditLog.js";
import type * as model_auditNames from "../model/auditNames.js";
import type * as model_authorize from "../model/authorize.js";
import type * as model_crypto from "../model/crypto.js";
import type * as model_errors from "../model/errors.js";
import type * as model_functions from "../model/functions.js";
import type * as model_glob from "../model/glob.js";
import type * as model_governance_email from "../model/governance/email.js";
import type * as model_governance_events from "../model/governance/events.js";
import type * as model_governance_invites from "../model/governance/invites.js";
import type * as model_governance_lifecycle from "../model/governance/lifecycle.js";
import type * as model_governance_notices from "../model/governance/notices.js";
import type * as model_governance_orgTokens from "../model/governance/orgTokens.js";
import type * as model_governance_policy from "../model/governance/policy.js";
import type * as model_governance_reach from "../model/governance/reach.js";
import type * as model_governance_regenerate from "../model/governance/regenerate.js";
import type * as model_governance_send from "../model/governance/send.js";
import type * as model_governance_validators from "../model/governance/validators.js";
import type * as model_governance_webhooks from "../model/governance/webhooks.js";
import type * as model_http_api from "../model/http/api.js";
import type * as model_http_authn from "../model/http/authn.js";
import type * as model_http_common from "../model/http/common.js";
import type * as model_http_credentialOps from "../model/http/credentialOps.js";
import type * as model_http_guard from "../model/http/guard.js";
import type * as model_http_keys from "../model/http/keys.js";
import type * as model_http_mcp from "../model/http/mcp.js";
import type * as model_http_mcpServer from "../model/http/mcpServer.js";
import type * as model_http_oauth from "../model/http/oauth.js";
import type * as model_http_operations from "../model/http/operations.js";
import type * as model_http_render from "../model/http/render.js";
import type * as model_http_table from "../model/http/table.js";
import type * as model_http_verify from "../model/http/verify.js";
import type * as model_http_workOps from "../model/http/workOps.js";
import type * as model_issuer from "../model/issuer.js";
import type * as model_items from "../model/items.js";
import type * as model_keyRevocation from "../model/keyRevocation.js";
import type * as model_keyTrust from "../model/keyTrust.js";
import type * as model_keys from "../model/keys.js";
import type * as model_liveness from "../model/liveness.js";
import type * as model_mcpClientConfig from "../model/mcpClientConfig.js";
import type * as model_oauth_complete from "../model/oauth/complete.js";
import type * as model_oauth_connections from "../model/oauth/connections.js";
import type * as model_oauth_encryption from "../model/oauth/encryption.js";
import type * as model_oauth_exchange from "../model/oauth/exchange.js";
import type * as model_oauth_flows from "../model/oauth/flows.js";
import type * as model_oauth_listing from "../model/oauth/listing.js";
import type * as model_oauth_pkce from "../model/oauth/pkce.js";
import type * as model_oauth_providers from "../model/oauth/providers.js";
import type * as model_oauth_state from "../model/oauth/state.js";
import type * as model_oauthServer_authorize from "../model/oauthServer/authorize.js";
import type * as model_oauthServer_cimd from "../model/oauthServer/cimd.js";
import type * as model_oauthServer_cimdFetch from "../model/oauthServer/cimdFetch.js";
import type * as model_oauthServer_clients from "../model/oauthServer/clients.js";
import type * as model_oauthServer_config from "../model/oauthServer/config.js";
import type * as model_oauthServer_consent from "../model/oauthServer/consent.js";
import type * as model_oauthServer_grants from "../model/oauthServer/grants.js";
import type * as model_oauthServer_http from "../model/oauthServer/http.js";
import type * as model_oauthServer_introspect from "../model/oauthServer/introspect.js";
import type * as model_oauthServer_metadata from "../model/oauthServer/metadata.js";
import type * as model_oauthServer_revoke from "../model/oauthServer/revoke.js";
import type * as model_oauthServer_token from "../model/oauthServer/token.js";
import type * as model_orgs from "../model/orgs.js";
import type * as model_pagination from "../model/pagination.js";
import type * as model_passwordSignIn from "../model/passwordSignIn.js";
import type * as model_permissions from "../model/permissions.js";
import type * as model_principal from "../model/principal.js";
import type * as model_rateLimit from "../model/rateLimit.js";
import type * as model_scopes from "../model/scopes.js";
import type * as model_storable from "../model/storable.js";
import type * as model_tokenHints from "../model/tokenHints.js";
import type * as model_tokens from "../model/tokens.js";
import type * as model_webSessions from "../model/webSessions.js";
import type * as notices from "../notices.js";
import type * as oauth from "../oauth.js";
import type * as oauthServer from "../oauthServer.js";
import type * as oauthServerNode from "../oauthServerNode.js";
import type * as orgs from "../orgs.js";
import type * as passwords from "../passwords.js";
import type * as sessions from "../sessions.js";
import type * as users from "../users.js";
import type * as validators from "../validators.js";
import type * as webhooks from "../webhooks.js";
import type * as workspaces from "../workspaces.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  audit: typeof audit;
  auth: typeof auth;
  crons: typeof crons;
  dashboard: typeof dashboard;
  governance: typeof governance;
  http: typeof http;
  httpInternal: typeof httpInternal;
  items: typeof items;
  keys: typeof keys;
  maintenance: typeof maintenance;
  "model/activity": typeof model_activity;
  "model/agentRefresh": typeof model_agentRefresh;
  "model/agentSessions": typeof model_agentSessions;
  "model/audit": typeof model_audit;
  "model/auditLog": typeof model_auditLog;
  "model/auditNames": typeof model_auditNames;
  "model/authorize": typeof model_authorize;
  "model/crypto": typeof model_crypto;
  "model/errors": typeof model_errors;
  "model/functions": typeof model_functions;
  "model/glob": typeof model_glob;
  "model/governance/email": typeof model_governance_email;
  "model/governance/events": typeof model_governance_events;
  "model/governance/invites": typeof model_governance_invites;
  "model/governance/lifecycle": typeof model_governance_lifecycle;
  "model/governance/notices": typeof model_governance_notices;
  "model/governance/orgTokens": typeof model_governance_orgTokens;
  "model/governance/policy": typeof model_governance_policy;
  "model/governance/reach": typeof model_governance_reach;
  "model/governance/regenerate": typeof model_governance_regenerate;
  "model/governance/send": typeof model_governance_send;
  "model/governance/validators": typeof model_governance_validators;
  "model/governance/webhooks": typeof model_governance_webhooks;
  "model/http/api": typeof model_http_api;
  "model/http/authn": typeof model_http_authn;
  "model/http/common": typeof model_http_common;
  "model/http/credentialOps": typeof model_http_credentialOps;
  "model/http/guard": typeof model_http_guard;
  "model/http/keys": typeof model_http_keys;
  "model/http/mcp": typeof model_http_mcp;
  "model/http/mcpServer": typeof model_http_mcpServer;
  "model/http/oauth": typeof model_http_oauth;
  "model/http/operations": typeof model_http_operations;
  "model/http/render": typeof model_http_render;
  "model/http/table": typeof model_http_table;
  "model/http/verify": typeof model_http_verify;
  "model/http/workOps": typeof model_http_workOps;
  "model/issuer": typeof model_issuer;
  "model/items": typeof model_items;
  "model/keyRevocation": typeof model_keyRevocation;
  "model/keyTrust": typeof model_keyTrust;
  "model/keys": typeof model_keys;
  "model/liveness": typeof model_liveness;
  "model/mcpClientConfig": typeof model_mcpClientConfig;
  "model/oauth/complete": typeof model_oauth_complete;
  "model/oauth/connections": typeof model_oauth_connections;
  "model/oauth/encryption": typeof model_oauth_encryption;
  "model/oauth/exchange": typeof model_oauth_exchange;
  "model/oauth/flows": typeof model_oauth_flows;
  "model/oauth/listing": typeof model_oauth_listing;
  "model/oauth/pkce": typeof model_oauth_pkce;
  "model/oauth/providers": typeof model_oauth_providers;
  "model/oauth/state": typeof model_oauth_state;
  "model/oauthServer/authorize": typeof model_oauthServer_authorize;
  "model/oauthServer/cimd": typeof model_oauthServer_cimd;
  "model/oauthServer/cimdFetch": typeof model_oauthServer_cimdFetch;
  "model/oauthServer/clients": typeof model_oauthServer_clients;
  "model/oauthServer/config": typeof model_oauthServer_config;
  "model/oauthServer/consent": typeof model_oauthServer_consent;
  "model/oauthServer/grants": typeof model_oauthServer_grants;
  "model/oauthServer/http": typeof model_oauthServer_http;
  "model/oauthServer/introspect": typeof model_oauthServer_introspect;
  "model/oauthServer/metadata": typeof model_oauthServer_metadata;
  "model/oauthServer/revoke": typeof model_oauthServer_revoke;
  "model/oauthServer/token": typeof model_oauthServer_token;
  "model/orgs": typeof model_orgs;
  "model/pagination": typeof model_pagination;
  "model/passwordSignIn": typeof model_passwordSignIn;
  "model/permissions": typeof model_permissions;
  "model/principal": typeof model_principal;
  "model/rateLimit": typeof model_rateLimit;
  "model/scopes": typeof model_scopes;
  "model/storable": typeof model_storable;
  "model/tokenHints": typeof model_tokenHints;
  "model/tokens": typeof model_tokens;
  "model/webSessions": typeof model_webSessions;
  notices: typeof notices;
  oauth: typeof oauth;
  oauthServer: typeof oauthServer;
  oauthServerNode: typeof oauthServerNode;
  orgs: typeof orgs;
  passwords: typeof passwords;
  sessions: typeof sessions;
  users: typeof users;
  validators: typeof validators;
  webhooks: typeof webhooks;
  workspaces: typeof workspaces;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
