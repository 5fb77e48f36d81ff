"use node";
/**
 * The one part of the authorization server that needs Node: fetching a
 * Client ID Metadata Document with DNS-checked, pinned connections
 * (convex/model/oauthServer/cimdFetch.ts). The result is validated and cached.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalAction } from "./_generated/server";
import { cimdUrlProblem, parseCimdDocument } from "./model/oauthServer/cimd";
import { fetchClientMetadataDocument } from "./model/oauthServer/cimdFetch";
import { isLocalDevelopment } from "./model/oauthServer/config";

const vClientView = v.object({
  clientId: v.string(),
  kind: v.literal("cimd"),
  name: v.string(),
  redirectUris: v.array(v.string()),
});

export const fetchClientDocument = internalAction({
  args: { clientId: v.string() },
  returns: v.union(v.object({ ok: v.literal(true), client: vClientView }), v.object({ ok: v.literal(false), reason: v.string() })),
  handler: async (ctx, { clientId }): Promise<{ ok: true; client: { clientId: string; kind: "cimd"; name: string; redirectUris: string[] } } | { ok: false; reason: string }> => {
    const problem = cimdUrlProblem(clientId);
    if (problem !== null) return { ok: false, reason: problem };
    const wait: number = await ctx.runMutation(internal.oauthServer.noteCimdFetch, {});
    if (wait > 0) return { ok: false, reason: "too many metadata fetches from this address: try again later" };
    const fetched = await fetchClientMetadataDocument(clientId, { allowLoopback: isLocalDevelopment() });
    if (!fetched.ok) return fetched;
    const client = parseCimdDocument(clientId, fetched.body);
    if (typeof client === "string") return { ok: false, reason: client };
    await ctx.runMutation(internal.oauthServer.cacheClient, { client, maxAgeS: fetched.maxAgeS });
    return { ok: true, client: { clientId, kind: "cimd", name: client.name, redirectUris: client.redirectUris } };
  },
});
