/** Moved to shared/permissions.ts (one rule for convex, the dashboard and the CLI). */
export * from "../../shared/permissions";
