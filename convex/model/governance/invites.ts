/**
 * Invitations: the only way into an organization.
 *
 * Sign-up does not verify e-mail, so an address proves nothing: adding a
 * person by e-mail alone would hand the org to whoever registered that
 * address first. An invitation is a single-use code (256 random bits, only
 * its SHA-256 stored) that the inviter passes to the person out of band;
 * when it names an e-mail, the accepting account must have that address
 * too (compared case-insensitively). It expires (at most 7 days), can be
 * revoked, and stops working when its inviter loses the right to invite.
 */
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { actorOf, logAudit } from "../audit";
import { authorize, authorizePath } from "../authorize";
import { randomToken, sha256Hex } from "../crypto";
import { keyholeError } from "../errors";
import { MAX_MEMBERS_LISTED, permissionForRole } from "../orgs";
import { roleGrants, type Role } from "../permissions";
import { enforce } from "../rateLimit";
import { emailKey, normalizeEmail } from "./email";
import type { UserMutationCtx } from "../functions";

export const INVITE_PREFIX = "khi_";
export const INVITE_MAX_TTL_S = 7 * 24 * 3600;
export const INVITE_MIN_TTL_S = 3600;
export const INVITES_LISTED = 100;
/** Invitations one org may create per hour. */
export const INVITE_LIMIT = { max: 50, windowMs: 3600_000 };

type InviteStatus = "pending" | "accepted" | "revoked" | "expired";

export function inviteStatus(i: Doc<"orgInvites">, now: number): InviteStatus {
  if (i.acceptedAt !== undefined) return "accepted";
  if (i.revokedAt !== undefined) return "revoked";
  return i.expiresAt <= now ? "expired" : "pending";
}

function dashboardUrl(): string {
  return (process.env.SITE_URL ?? "http://127.0.0.1:5173").replace(/\/+$/, "");
}

function checkTtl(expiresIn: number | undefined): number {
  if (expiresIn === undefined) return INVITE_MAX_TTL_S;
  if (!Number.isInteger(expiresIn) || expiresIn < INVITE_MIN_TTL_S || expiresIn > INVITE_MAX_TTL_S) {
    throw keyholeError("invalid_argument", `expiresIn is in whole seconds, from ${INVITE_MIN_TTL_S} (1 hour) to ${INVITE_MAX_TTL_S} (7 days)`);
  }
  return expiresIn;
}

export async function createInvite(
  ctx: MutationCtx,
  args: { org: string; role: Role; email?: string; expiresIn?: number },
) {
  const { principal, resource } = await authorizePath(ctx, "members:write", args.org);
  const extra = permissionForRole(args.role);
  if (extra) await authorize(ctx, extra, resource);
  const email = args.email === undefined || args.email.trim() === "" ? undefined : normalizeEmail(args.email);
  const ttl = checkTtl(args.expiresIn);
  await enforce(ctx, `invite:${resource.org._id}`, INVITE_LIMIT, "invitations for this organization");

  const code = INVITE_PREFIX + randomToken(32);
  const now = Date.now();
  const expiresAt = now + ttl * 1000;
  const inviteId = await ctx.db.insert("orgInvites", {
    orgId: resource.org._id,
    role: args.role,
    email,
    codeHash: await sha256Hex(code),
    invitedBy: principal.userId,
    createdAt: now,
    expiresAt,
  });
  await logAudit(ctx, {
    userId: principal.userId,
    action: "invite.created",
    actor: actorOf(principal),
    targetType: "orgInvite",
    targetId: inviteId,
    details: `org=${resource.org.slug} role=${args.role}${email ? ` email=${email}` : ""} expiresAt=${new Date(expiresAt).toISOString()}`,
  });
  // The fragment (#…) never reaches a server or a Referer header.
  const url = `${dashboardUrl()}/#/invite?code=${encodeURIComponent(code)}`;
  return { inviteId, code, url, expiresAt };
}

async function inviteByCode(ctx: QueryCtx, code: string): Promise<Doc<"orgInvites">> {
  const wellFormed = code.startsWith(INVITE_PREFIX) && code.length <= 64;
  const codeHash = wellFormed ? await sha256Hex(code) : null;
  const invite =
    codeHash === null
      ? null
      : await ctx.db
          .query("orgInvites")
          .withIndex("by_code", (q) => q.eq("codeHash", codeHash))
          .unique();
  if (invite === null) throw keyholeError("not_found", "no such invitation: check the link you were sent");
  return invite;
}

/** Whether the inviter may still hand out `role` in the org (their current membership decides). */
async function inviterStillMay(ctx: QueryCtx, invite: Doc<"orgInvites">): Promise<boolean> {
  const m = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", invite.invitedBy).eq("orgId", invite.orgId))
    .unique();
  if (m === null || !roleGrants(m.role, "members:write")) return false;
  const extra = permissionForRole(invite.role);
  return extra === null || roleGrants(m.role, extra);
}

/** Joins the org with the invitation's role. The signed-in invitee only; single-use. */
export async function acceptInvite(ctx: UserMutationCtx, code: string) {
  const user = ctx.user;
  const invite = await inviteByCode(ctx, code);
  const now = Date.now();
  const status = inviteStatus(invite, now);
  if (status === "accepted") throw keyholeError("conflict", "this invitation has already been used");
  if (status === "revoked") throw keyholeError("revoked", "this invitation was revoked");
  if (status === "expired") throw keyholeError("expired", "this invitation has expired: ask for a new one");
  const account = await ctx.db.get("users", user.userId);
  if (invite.email !== undefined && emailKey(account?.email) !== invite.email) {
    throw keyholeError("forbidden", "this invitation is for another e-mail address: sign in with the account it was sent to");
  }
  const org = await ctx.db.get("orgs", invite.orgId);
  if (org === null || !(await inviterStillMay(ctx, invite))) {
    throw keyholeError("revoked", "the person who sent this invitation can no longer invite: ask for a new one");
  }
  const existing = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", user.userId).eq("orgId", org._id))
    .unique();
  if (existing !== null) throw keyholeError("conflict", `you are already a member of "${org.slug}"`);
  const members = await ctx.db
    .query("memberships")
    .withIndex("by_org", (q) => q.eq("orgId", org._id))
    .take(MAX_MEMBERS_LISTED);
  if (members.length >= MAX_MEMBERS_LISTED) {
    throw keyholeError("conflict", `an organization has at most ${MAX_MEMBERS_LISTED} members`);
  }
  await ctx.db.insert("memberships", { orgId: org._id, userId: user.userId, role: invite.role, createdAt: now });
  await ctx.db.patch("orgInvites", invite._id, { acceptedAt: now, acceptedBy: user.userId });
  const event = {
    action: "member.added",
    actor: actorOf(user),
    targetType: "org",
    targetId: org._id,
    details: `org=${org.slug} user=${user.userId} role=${invite.role} via=invite:${invite._id}`,
  };
  await logAudit(ctx, { ...event, userId: user.userId });
  if (invite.invitedBy !== user.userId) await logAudit(ctx, { ...event, userId: invite.invitedBy });
  return { org: org.slug, orgName: org.name, role: invite.role };
}

async function emailOf(ctx: QueryCtx, userId: Id<"users"> | undefined): Promise<string | null> {
  if (userId === undefined) return null;
  return (await ctx.db.get("users", userId))?.email ?? null;
}

/** The org's invitations, newest first, never a code (members:write). */
export async function listInvites(ctx: QueryCtx, orgSlug: string) {
  const { resource } = await authorizePath(ctx, "members:write", orgSlug);
  const rows = await ctx.db
    .query("orgInvites")
    .withIndex("by_org", (q) => q.eq("orgId", resource.org._id))
    .order("desc")
    .take(INVITES_LISTED);
  const now = Date.now();
  const out = [];
  for (const i of rows) {
    out.push({
      inviteId: i._id,
      role: i.role,
      email: i.email ?? null,
      status: inviteStatus(i, now),
      invitedBy: await emailOf(ctx, i.invitedBy),
      createdAt: i.createdAt,
      expiresAt: i.expiresAt,
      acceptedBy: await emailOf(ctx, i.acceptedBy),
      acceptedAt: i.acceptedAt ?? null,
    });
  }
  return out;
}

/** Revokes a pending invitation (members:write). Revoking again is a no-op. */
export async function revokeInvite(ctx: MutationCtx, args: { org: string; inviteId: string }) {
  const { principal, resource } = await authorizePath(ctx, "members:write", args.org);
  const id = ctx.db.normalizeId("orgInvites", args.inviteId);
  const invite = id === null ? null : await ctx.db.get("orgInvites", id);
  if (invite === null || invite.orgId !== resource.org._id) {
    throw keyholeError("not_found", `no invitation with id "${args.inviteId.slice(0, 64)}" in "${resource.org.slug}"`);
  }
  if (invite.acceptedAt !== undefined) {
    throw keyholeError("conflict", "this invitation was already accepted: remove the member instead");
  }
  if (invite.revokedAt !== undefined) return { inviteId: invite._id, changed: false };
  await ctx.db.patch("orgInvites", invite._id, { revokedAt: Date.now(), revokedBy: principal.userId });
  await logAudit(ctx, {
    userId: principal.userId,
    action: "invite.revoked",
    actor: actorOf(principal),
    targetType: "orgInvite",
    targetId: invite._id,
    details: `org=${resource.org.slug} role=${invite.role}`,
  });
  return { inviteId: invite._id, changed: true };
}
