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
import type * as auth from "../auth.js";
import type * as http from "../http.js";
import type * as model_audit from "../model/audit.js";
import type * as model_authorize from "../model/authorize.js";
import type * as model_crypto from "../model/crypto.js";
import type * as model_errors from "../model/errors.js";
import type * as model_http_api from "../model/http/api.js";
import type * as model_http_keys from "../model/http/keys.js";
import type * as model_http_mcp from "../model/http/mcp.js";
import type * as model_http_oauth from "../model/http/oauth.js";
import type * as model_keys from "../model/keys.js";
import type * as model_permissions from "../model/permissions.js";
import type * as model_principal from "../model/principal.js";
import type * as model_rateLimit from "../model/rateLimit.js";
import type * as model_scopes from "../model/scopes.js";
import type * as validators from "../validators.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  auth: typeof auth;
  http: typeof http;
  "model/audit": typeof model_audit;
  "model/authorize": typeof model_authorize;
  "model/crypto": typeof model_crypto;
  "model/errors": typeof model_errors;
  "model/http/api": typeof model_http_api;
  "model/http/keys": typeof model_http_keys;
  "model/http/mcp": typeof model_http_mcp;
  "model/http/oauth": typeof model_http_oauth;
  "model/keys": typeof model_keys;
  "model/permissions": typeof model_permissions;
  "model/principal": typeof model_principal;
  "model/rateLimit": typeof model_rateLimit;
  "model/scopes": typeof model_scopes;
  validators: typeof validators;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
