import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

// Housekeeping only: no credential check depends on these having run.
crons.interval("purge stale rate-limit windows", { hours: 1 }, internal.maintenance.purgeRateLimits, {});
crons.daily(
  "purge long-dead agent session families",
  { hourUTC: 3, minuteUTC: 17 },
  internal.sessions.purgeExpiredSessions,
  {},
);
crons.daily(
  "re-encrypt OAuth tokens still under an old key",
  { hourUTC: 3, minuteUTC: 41 },
  internal.oauth.reencryptConnections,
  {},
);
crons.daily("purge token activity older than 90 days", { hourUTC: 3, minuteUTC: 53 }, internal.dashboard.purgeOldActivity, {});

// Token lifecycle (model/governance/lifecycle.ts): notices and webhooks, and the
// revokeUnusedAfterDays policy, whose revocations do stop tokens.
crons.interval("token expiry notices", { hours: 1 }, internal.governance.expiryNotices, {});
crons.daily("revoke tokens unused per org policy", { hourUTC: 4, minuteUTC: 7 }, internal.governance.sweepUnused, {});
crons.daily("prune webhook delivery logs", { hourUTC: 4, minuteUTC: 23 }, internal.webhooks.pruneDeliveries, {});
crons.interval(
  "reap unused OAuth clients, expired authorization requests and codes, old grants",
  { hours: 1 },
  internal.oauthServer.reap,
  {},
);

export default crons;
