/**
 * The one permission catalog, and what each organization role grants.
 * Permissions are independent: `work:write` does not include `work:read`.
 */
export const PERMISSIONS = [
  "org:read",
  "org:configure",
  "org:admin",
  "members:read",
  "members:write",
  "workspace:read",
  "workspace:write",
  "workspace:configure",
  "workspace:admin",
  "work:read",
  "work:write",
  "connections:read",
  "connections:use",
  "tokens:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What each permission lets a token do, in words (the dashboard shows them next to the names). */
export const PERMISSION_DESCRIPTIONS: Record<Permission, string> = {
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

/**
 * Personal permissions concern the caller's own account (OAuth connections,
 * token metadata), not an organization, so no org role bounds them: only the
 * token's scopes do.
 */
export const PERSONAL_PERMISSIONS: ReadonlySet<Permission> = new Set([
  "connections:read",
  "connections:use",
  "tokens:read",
]);

/**
 * Sensitive permissions that "full role" (blank scopes or "*") never
 * includes: they apply only when a scope entry names them. `connections:use`
 * hands out a person's provider tokens (GitHub, Slack, ...).
 */
export const NAMED_ONLY_PERMISSIONS: ReadonlySet<Permission> = new Set(["connections:use"]);

export const ROLES = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

const ORG_PERMISSIONS = PERMISSIONS.filter((p) => !PERSONAL_PERMISSIONS.has(p));

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  owner: new Set(ORG_PERMISSIONS),
  admin: new Set(ORG_PERMISSIONS.filter((p) => p !== "org:admin")),
  member: new Set<Permission>([
    "org:read",
    "members:read",
    "workspace:read",
    "workspace:write",
    "work:read",
    "work:write",
  ]),
  viewer: new Set<Permission>([
    "org:read",
    "members:read",
    "workspace:read",
    "work:read",
  ]),
};

export function isPermission(s: string): s is Permission {
  return (PERMISSIONS as readonly string[]).includes(s);
}

export function roleGrants(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
