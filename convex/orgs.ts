import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { internalTwin, principalMutation, principalQuery, userMutation } from "./model/functions";
import * as Invites from "./model/governance/invites";
import * as OrgTokens from "./model/governance/orgTokens";
import * as Policy from "./model/governance/policy";
import {
  vInviteCreated,
  vInviteInfo,
  vOrgToken,
  vTokenPolicy,
  vTokenPolicyInput,
} from "./model/governance/validators";
import * as Orgs from "./model/orgs";
import { vRole } from "./validators";

/** Creates an organization; the creator (a signed-in person) becomes its owner. */
export const create = userMutation({
  action: "create organizations",
  refusal: "tokens cannot create organizations: sign in interactively",
  args: { slug: v.string(), name: v.string() },
  returns: v.id("orgs"),
  handler: async (ctx, args) => await Orgs.createOrg(ctx, args),
});

/** The caller's organizations with their role (a token sees the ones its scopes reach). */
export const listMine = principalQuery({
  args: {},
  returns: v.array(Orgs.vOrgSummary),
  handler: async (ctx) => await Orgs.listMyOrgs(ctx),
});
/** listMine for the MCP endpoint (same definition and rule: convex/model/functions.ts). */
export const listMineInternal = internalTwin(listMine);

/** Members of an org (members:read). */
export const listMembers = principalQuery({
  args: { org: v.string() },
  returns: v.array(Orgs.vMember),
  handler: async (ctx, args) => await Orgs.listMembers(ctx, args.org),
});

/** Changes a member's role (org:configure; to or from owner needs org:admin; an org keeps one owner). */
export const setRole = principalMutation({
  args: { org: v.string(), userId: v.id("users"), role: vRole },
  returns: v.null(),
  handler: async (ctx, args) => await Orgs.setRole(ctx, args),
});

/** Removes a member (members:write), or leaves the org when it is yourself. */
export const removeMember = principalMutation({
  args: { org: v.string(), userId: v.id("users") },
  returns: v.null(),
  handler: async (ctx, args) => await Orgs.removeMember(ctx, args),
});

// ---- governance: invitations, the org-wide token view, token policy ----------
// (convex/model/governance/; people join an org only through an invitation)

/**
 * Invites someone to the org with `role` (members:write; admin needs
 * org:configure, owner org:admin). The code is returned once; pass the link
 * to the person. With `email`, only an account with that address (any case)
 * may accept. Single-use; expires after `expiresIn` seconds (1 h to 7 days,
 * default 7 days).
 */
export const invite = principalMutation({
  args: { org: v.string(), role: vRole, email: v.optional(v.string()), expiresIn: v.optional(v.number()) },
  returns: vInviteCreated,
  handler: async (ctx, args) => await Invites.createInvite(ctx, args),
});

/** Joins the org an invitation is for: the signed-in invitee only (tokens can't); single-use. */
export const acceptInvite = userMutation({
  action: "accept invitations",
  args: { code: v.string() },
  returns: v.object({ org: v.string(), orgName: v.string(), role: vRole }),
  handler: async (ctx, args) => await Invites.acceptInvite(ctx, args.code),
});

/** The org's invitations, newest first, with their status; never a code (members:write). */
export const listInvites = principalQuery({
  args: { org: v.string() },
  returns: v.array(vInviteInfo),
  handler: async (ctx, args) => await Invites.listInvites(ctx, args.org),
});

/** Revokes a pending invitation (members:write); repeating it is a no-op. */
export const revokeInvite = principalMutation({
  args: { org: v.string(), inviteId: v.string() },
  returns: v.object({ inviteId: v.id("orgInvites"), changed: v.boolean() }),
  handler: async (ctx, args) => await Invites.revokeInvite(ctx, args),
});

/**
 * Every PAT and live agent session that can reach the org, for its owners
 * and admins (org:configure): owner, name, type, the scope entries that reach
 * the org, status, times, and what the token policy refuses. Paged by member
 * (`paginationOpts.numItems` members per page, at most 20). Never a secret.
 */
export const listOrgTokens = principalQuery({
  args: {
    org: v.string(),
    status: v.optional(v.union(v.literal("active"), v.literal("all"))),
    paginationOpts: v.optional(paginationOptsValidator),
  },
  returns: v.object({ page: v.array(vOrgToken), isDone: v.boolean(), continueCursor: v.string() }),
  handler: async (ctx, args) => await OrgTokens.listOrgTokens(ctx, args),
});

/**
 * Revokes a member's token (or ends an agent session) that reaches the org:
 * a signed-in owner or admin (org:configure; an owner's token needs
 * org:admin). The owner sees who revoked it and why (notice, audit, webhook).
 */
export const revokeOrgToken = userMutation({
  action: "revoke members' tokens",
  args: { org: v.string(), tokenId: v.string(), reason: v.optional(v.string()) },
  returns: v.object({ tokenId: v.string(), changed: v.boolean(), sessionsEnded: v.number() }),
  handler: async (ctx, args) => await OrgTokens.revokeOrgToken(ctx, args),
});

/** The org's token policy (any member: org:read). */
export const getTokenPolicy = principalQuery({
  args: { org: v.string() },
  returns: vTokenPolicy,
  handler: async (ctx, args) => await Policy.getTokenPolicy(ctx, args.org),
});

/**
 * Sets the org's token policy (a signed-in owner or admin: org:configure).
 * A field left out stays; null clears a limit. Enforced on every request
 * from then on, for existing tokens too.
 */
export const setTokenPolicy = userMutation({
  action: "change an organization's token policy",
  args: { org: v.string(), policy: vTokenPolicyInput },
  returns: vTokenPolicy,
  handler: async (ctx, args) => await Policy.setTokenPolicy(ctx, args.org, args.policy),
});
