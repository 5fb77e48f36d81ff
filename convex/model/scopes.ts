/** Moved to shared/scopes.ts (one rule for convex, the dashboard and the CLI). */
export * from "../../shared/scopes";
