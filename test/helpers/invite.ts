// People join an org only through an invitation (convex/model/governance/invites.ts).
// `joinOrg` is the test stand-in for the old add-by-email: invite, then accept as the invitee.
import { api } from "../../convex/_generated/api";
import type { Role } from "../../convex/model/permissions";

type Caller = { mutation: (...args: any[]) => Promise<any> };

/** `inviter` invites `who` to `org` with `role`; `who` accepts. */
export async function joinOrg(inviter: { as: Caller }, org: string, who: { as: Caller }, role: Role): Promise<void> {
  const { code } = await inviter.as.mutation(api.orgs.invite, { org, role });
  await who.as.mutation(api.orgs.acceptInvite, { code });
}
