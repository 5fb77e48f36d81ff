import { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role } from "../../../convex/model/permissions";

export { PERMISSIONS, PERSONAL_PERMISSIONS, ROLE_PERMISSIONS, type Permission, type Role };

/** One line per permission, for the scope builder. */
export const PERMISSION_HELP: Record<Permission, string> = {
  "org:read": "see the organization",
  "org:configure": "change organization settings",
  "org:admin": "administer the organization",
  "members:read": "see members and roles",
  "members:write": "add, remove members and change roles",
  "workspace:read": "see workspaces",
  "workspace:write": "change workspaces",
  "workspace:configure": "configure workspaces",
  "workspace:admin": "create and delete workspaces",
  "work:read": "read items",
  "work:write": "create, change and delete items",
  "connections:read": "see my OAuth connections",
  "connections:use": "get access tokens from my OAuth connections",
  "tokens:read": "see my tokens' metadata",
};

/** What a token for `resource` may be given: only what my role grants (personal ones on the global entry). */
export function grantablePermissions(resource: string, roles: Record<string, Role>): Permission[] {
  if (resource === "") {
    const set = new Set<Permission>(PERSONAL_PERMISSIONS);
    for (const role of Object.values(roles)) for (const p of ROLE_PERMISSIONS[role]) set.add(p);
    return PERMISSIONS.filter((p) => set.has(p));
  }
  const role = roles[resource.split("/")[0]];
  if (role === undefined) return [];
  return PERMISSIONS.filter((p) => ROLE_PERMISSIONS[role].has(p));
}
