/** Moved to shared/glob.ts (one rule for convex, the dashboard and the CLI). */
export * from "../../shared/glob";
