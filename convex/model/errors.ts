/** Moved to shared/errors.ts (one rule for convex, the dashboard and the CLI). */
export * from "../../shared/errors";
