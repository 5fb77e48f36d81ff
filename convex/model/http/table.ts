/**
 * Every operation of the HTTP API and the MCP endpoint, once (operations.ts
 * says what an entry holds): api.ts routes the entries with `http`,
 * mcpServer.ts lists the entries with `mcp` as tools, in this order.
 */
import { CREDENTIAL_OPS } from "./credentialOps";
import type { Operation } from "./operations";
import { WORK_OPS } from "./workOps";

export const OPERATIONS: readonly Operation[] = [...WORK_OPS, ...CREDENTIAL_OPS];
