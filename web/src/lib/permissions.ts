import { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role } from "../../../shared/permissions";

export { PERMISSION_DESCRIPTIONS } from "../../../shared/permissions";
export { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role };

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
