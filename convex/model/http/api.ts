import type { HttpRouter } from "convex/server";

/** Registers this area's routes on the site router (see convex/http.ts). */
export function registerApiRoutes(_http: HttpRouter): void {}
