import { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role } from "../../../convex/model/permissions";

export { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role };

/** What each permission lets a token do, in words shown next to its name. */
export const PERMISSION_HELP: Record<Permission, string> = {
  "org:read": "See the organization",
  "org:configure": "Change organization settings and roles",
  "org:admin": "Administer the organization (owners)",
  "members:read": "See members and their roles",
  "members:write": "Add and remove members",
  "workspace:read": "See workspaces",
  "workspace:write": "Create and change workspaces",
  "workspace:configure": "Configure workspaces",
  "workspace:admin": "Delete workspaces",
  "work:read": "Read items",
  "work:write": "Create, change and delete items",
  "connections:read": "See my OAuth connections",
  "connections:use": "Get access tokens from my OAuth connections",
  "tokens:read": "See my tokens, sessions and audit log",
};

/** Permissions that act inside one workspace; the others act on an organization or on my account. */
const WORKSPACE_TIER: ReadonlySet<Permission> = new Set(["workspace:read", "workspace:configure", "work:read", "work:write"]);

export type Tier = "everywhere" | "org" | "workspace";

export function tierOf(resource: string): Tier {
  return resource === "" ? "everywhere" : resource.includes("/") ? "workspace" : "org";
}

/**
 * What a scope entry for `resource` may be given: only what my role grants
 * there, and only what fits the tier — one workspace gets workspace
 * permissions, an organization gets organization ones, "everywhere" also gets
 * my personal ones.
 */
export function grantablePermissions(resource: string, roles: Record<string, Role>): Permission[] {
  const tier = tierOf(resource);
  if (tier === "everywhere") {
    const set = new Set<Permission>(PERSONAL_PERMISSIONS);
    for (const role of Object.values(roles)) for (const p of ROLE_PERMISSIONS[role]) set.add(p);
    return PERMISSIONS.filter((p) => set.has(p));
  }
  const role = roles[resource.split("/")[0]];
  if (role === undefined) return [];
  return PERMISSIONS.filter((p) => ROLE_PERMISSIONS[role].has(p) && (tier === "org" || WORKSPACE_TIER.has(p)));
}
