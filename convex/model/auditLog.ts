/**
 * The audit log as people read it: one naming style for events
 * (`<thing>.<past participle>`), names instead of ids, and filters by event
 * type, token, actor kind and date — each an index range, never a scan.
 */
import type { PaginationOptions } from "convex/server";
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { auditEventFields, vActorKind } from "../validators";
import { keyholeError } from "./errors";
import { canonicalAction } from "./auditNames";
import { readPage } from "./pagination";
import type { PrincipalQueryCtx } from "./functions";

export { AUDIT_ACTIONS, canonicalAction } from "./auditNames";

export const MAX_AUDIT_PAGE = 100;

export const vAuditFilter = {
  action: v.optional(v.string()),
  tokenId: v.optional(v.string()),
  actorKind: v.optional(vActorKind),
  /** Inclusive lower and exclusive upper bound on `at` (ms since the epoch). */
  from: v.optional(v.number()),
  to: v.optional(v.number()),
};
export type AuditFilter = { action?: string; tokenId?: string; actorKind?: Infer<typeof vActorKind>; from?: number; to?: number };

export const vAuditEntry = v.object({
  _id: v.id("auditEvents"),
  ...auditEventFields,
  at: v.number(),
  tokenId: v.optional(v.string()),
  /** The actor's name: "you", a co-member's email, or one of your tokens or agent sessions. */
  actorName: v.optional(v.string()),
  /** The target's name (token name, agent id, provider, org or workspace) when known. */
  targetName: v.optional(v.string()),
});
export type AuditEntry = Infer<typeof vAuditEntry>;

function checkFilter(f: AuditFilter): void {
  if (f.action !== undefined && !/^[a-z_]{1,32}\.[a-z_]{1,32}$/.test(f.action)) {
    throw keyholeError("invalid_argument", `action "${f.action.slice(0, 40)}" is not an event name like "token.created"`);
  }
  for (const [k, t] of [["from", f.from], ["to", f.to]] as const) {
    if (t !== undefined && !(Number.isFinite(t) && t >= 0)) throw keyholeError("invalid_argument", `${k} must be a time in ms since the epoch`);
  }
}

/** Does an event pass the filters its index range did not already apply? */
function matches(e: Doc<"auditEvents">, f: AuditFilter): boolean {
  return (
    (f.action === undefined || canonicalAction(e.action) === f.action) &&
    (f.tokenId === undefined || e.tokenId === f.tokenId) &&
    (f.actorKind === undefined || e.actorKind === f.actorKind)
  );
}

/**
 * A page of the caller's own audit log, newest first (a token needs
 * tokens:read). The most selective filter picks the index (token, then event
 * type, then actor kind); the date range is part of every index range; the
 * other filters are applied to the page read, so a page may hold fewer than
 * numItems events while more remain (`isDone` says when the log is exhausted).
 */
export async function listAuditLog(ctx: PrincipalQueryCtx, paginationOpts: PaginationOptions, f: AuditFilter) {
  const p = ctx.principal;
  checkFilter(f);
  const userId = p.userId;
  // Every index ends in `at`: the date range is always part of the range (open ends by default).
  const from = f.from ?? 0;
  const to = f.to ?? Number.MAX_SAFE_INTEGER;
  const result = await readPage(paginationOpts, MAX_AUDIT_PAGE, (opts) => {
    const table = ctx.db.query("auditEvents");
    const q =
      f.tokenId !== undefined
        ? table.withIndex("by_user_token_at", (q) => q.eq("userId", userId).eq("tokenId", f.tokenId).gte("at", from).lt("at", to))
        : f.action !== undefined
          ? table.withIndex("by_user_action_at", (q) => q.eq("userId", userId).eq("action", f.action!).gte("at", from).lt("at", to))
          : f.actorKind !== undefined
            ? table.withIndex("by_user_actor_at", (q) => q.eq("userId", userId).eq("actorKind", f.actorKind!).gte("at", from).lt("at", to))
            : table.withIndex("by_user_at", (q) => q.eq("userId", userId).gte("at", from).lt("at", to));
    return q.order("desc").paginate(opts);
  });
  const names = new Names(ctx, userId);
  const page: AuditEntry[] = [];
  for (const e of result.page) {
    if (!matches(e, f)) continue;
    page.push(await names.describe(e));
  }
  return { ...result, page };
}

/** Looks up names for ids, once each; only the log owner's own records are named. */
class Names {
  private cache = new Map<string, string | null>();
  constructor(
    private ctx: QueryCtx,
    private userId: Id<"users">,
  ) {}

  private async lookup(key: string, load: () => Promise<string | null>): Promise<string | undefined> {
    if (!this.cache.has(key)) this.cache.set(key, await load());
    return this.cache.get(key) ?? undefined;
  }

  private token(id: string | undefined) {
    if (id === undefined) return Promise.resolve(undefined);
    return this.lookup(`t:${id}`, async () => {
      const tid = this.ctx.db.normalizeId("apiTokens", id);
      const t = tid === null ? null : await this.ctx.db.get("apiTokens", tid);
      return t !== null && t.userId === this.userId ? t.name : null;
    });
  }

  private session(id: string | undefined) {
    if (id === undefined) return Promise.resolve(undefined);
    return this.lookup(`s:${id}`, async () => {
      const sid = this.ctx.db.normalizeId("agentSessions", id);
      const s = sid === null ? null : await this.ctx.db.get("agentSessions", sid);
      return s !== null && s.userId === this.userId ? s.agentId : null;
    });
  }

  private user(id: string) {
    return this.lookup(`u:${id}`, async () => {
      if (id === this.userId) return "you";
      const uid = this.ctx.db.normalizeId("users", id);
      const u = uid === null ? null : await this.ctx.db.get("users", uid);
      return u?.email ?? u?.name ?? null;
    });
  }

  /** The details text with record ids replaced by names (or dropped when they name nothing useful). */
  /** The name an id in `key=<id>` stands for; null drops the pair (an id that means nothing to a reader). */
  private async nameFor(key: string, id: string): Promise<[string, string] | null> {
    switch (key) {
      case "user":
      case "owner": {
        const name = await this.user(id);
        return name === undefined ? null : [key, name];
      }
      case "parent":
      case "previous": {
        const name = await this.token(id);
        return name === undefined ? null : [key === "parent" ? "token" : key, name];
      }
      case "session": {
        const name = await this.session(id);
        return name === undefined ? null : ["agent", name];
      }
      case "via":
        return [key, id.replace(/:[A-Za-z0-9]{20,}$/, "")];
      default: // from=<session id>
        return null;
    }
  }

  /** The details text with record ids replaced by names (or dropped when they name nothing useful). */
  private async details(text: string | undefined): Promise<string | undefined> {
    if (text === undefined) return undefined;
    const out: string[] = [];
    for (const part of text.split(" ")) {
      const m = /^(user|owner|parent|previous|session|from|via)=(\S+)$/.exec(part);
      // Only values that look like record ids are replaced ("from=member" in a role change stays).
      if (m === null || !/^(invite:)?[A-Za-z0-9]{20,}$/.test(m[2])) {
        out.push(part);
        continue;
      }
      const named = await this.nameFor(m[1], m[2]);
      if (named !== null) out.push(`${named[0]}=${named[1]}`);
    }
    // "replayed refresh_token of <id>": the session id means nothing to a reader.
    return out.join(" ").replace(/ of [A-Za-z0-9]{20,};/, ";");
  }

  async describe(e: Doc<"auditEvents">): Promise<AuditEntry> {
    const { userId: _u, _creationTime: _c, ...rest } = e;
    const actorName =
      e.actorId === undefined
        ? undefined
        : e.actorKind === "pat"
          ? await this.token(e.actorId)
          : e.actorKind === "agent"
            ? await this.session(e.actorId)
            : e.actorKind === "user"
              ? await this.user(e.actorId)
              : undefined;
    const detail = (key: string) => new RegExp(`(?:^|\\s)${key}=(\\S+)`).exec(e.details ?? "")?.[1];
    let targetName: string | undefined;
    switch (e.targetType) {
      case "apiToken":
        targetName = (await this.token(e.targetId)) ?? detail("name");
        break;
      case "agentSession":
        targetName = (await this.session(e.targetId)) ?? detail("agent") ?? detail("agentId");
        break;
      case "agent":
        targetName = e.targetId;
        break;
      case "agentSessionFamily":
        targetName = detail("agent");
        break;
      case "oauthConnection":
      case "oauthProvider":
        targetName = detail("provider");
        break;
      case "org":
        targetName = detail("slug") ?? detail("org");
        break;
      case "workspace":
        targetName = /^[a-z0-9-]+\/[a-z0-9-]+$/.test(e.details ?? "") ? e.details : undefined;
        break;
    }
    return {
      ...rest,
      action: canonicalAction(e.action),
      details: await this.details(e.details),
      ...(actorName !== undefined ? { actorName } : {}),
      ...(targetName !== undefined ? { targetName } : {}),
    };
  }
}
