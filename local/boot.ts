/**
 * Booting the embedded backend once its ports are bound: the functions' env,
 * the engine over convex/, the durable state, the identity verifier, live
 * queries and the scheduler. `boot()` returns everything the request
 * handlers (api.ts, site.ts) and `close()` need.
 */
import fs from "node:fs";
import path from "node:path";
import { legacyIssuer } from "../convex/model/issuer.js";
import { Engine } from "./engine.js";
import { applyEnv, loadOrCreateEnvFile } from "./env.js";
import { hostPolicy, urlHostNames, type HostPolicy } from "./hosts.js";
import { endCounterSignIns } from "./ids.js";
import { IdentityVerifier, providersOf } from "./identity.js";
import type { Logger } from "./log.js";
import { buildModuleMap } from "./modules.js";
import { Scheduler } from "./scheduler.js";
import { patchRequestUrl, siteOrigin } from "./site.js";
import { compact, Journal, readStore } from "./store.js";
import { SyncServer } from "./sync.js";

export type Booted = {
  engine: Engine;
  verifier: IdentityVerifier;
  sync: SyncServer;
  scheduler: Scheduler;
  journal: Journal;
  /** The site URL functions see (CONVEX_SITE_URL), without a trailing slash. */
  siteUrl: string;
  /** Host names served: the configured ones plus those of the site URLs. */
  hosts: HostPolicy;
  log: Logger;
};

export type BootOptions = {
  dataDir: string;
  convexDir: string;
  /** The site port's own URL (CONVEX_SITE_URL unless one is configured). */
  derivedSiteUrl: string;
  hostNames: string[];
  env?: Record<string, string>;
  log: Logger;
};

export async function boot(o: BootOptions): Promise<Booted> {
  const { log } = o;
  const siteUrl = await loadEnv(o);
  const hosts = hostPolicy([...o.hostNames, ...urlHostNames([siteUrl, process.env.SITE_URL])]);

  patchRequestUrl();
  const engine = await Engine.create(buildModuleMap(o.convexDir));
  const journal = openData(engine, o.dataDir, log);
  await endGuessableSignIns(engine, log);

  const verifier = await makeVerifier(engine, siteUrl, o.derivedSiteUrl);
  const sync = new SyncServer(engine, verifier, log);
  engine.onCommit((info) => sync.onCommit(info));

  const scheduler = new Scheduler(engine, log);
  const resumed = await scheduler.resumeScheduledFunctions();
  if (resumed > 0) log.info(`re-armed ${resumed} scheduled function(s)`);
  const crons = await scheduler.startCrons();
  if (crons > 0) log.info(`started ${crons} cron job(s)`);
  return { engine, verifier, sync, scheduler, journal, siteUrl, hosts, log };
}

/**
 * Puts env.json (generated on first start), `options.env` and the site URL
 * into process.env — before convex/ is imported. Returns the site URL.
 */
async function loadEnv(o: BootOptions): Promise<string> {
  const { env: fileEnv, created } = await loadOrCreateEnvFile(o.dataDir, {
    legacyIssuer: legacyIssuer(o.env?.CONVEX_SITE_URL ?? process.env.CONVEX_SITE_URL ?? o.derivedSiteUrl),
  });
  if (created) o.log.info(`generated secrets for the functions in ${path.join(o.dataDir, "env.json")}`);
  applyEnv(fileEnv, o.env, { CONVEX_SITE_URL: o.derivedSiteUrl });
  return (process.env.CONVEX_SITE_URL ?? o.derivedSiteUrl).replace(/\/+$/, "");
}

/** Durable state: replay, compact, then journal every commit. */
function openData(engine: Engine, dataDir: string, log: Logger): Journal {
  const restored = readStore(dataDir, log);
  engine.restore(restored);
  // Compact: fold the journal into a fresh snapshot (nothing to fold after a
  // start with no writes since the last one).
  const docs =
    restored.journalRecords > 0 || restored.tornBytes > 0 || !fs.existsSync(path.join(dataDir, "snapshot.jsonl"))
      ? compact(dataDir, engine.documents(), engine.counters())
      : restored.documents.size;
  const journal = new Journal(dataDir);
  engine.journal = journal;
  engine.onFatal = (err) => {
    log.error(`cannot write the journal (${err.message}); stopping so no unsaved write is acknowledged`);
    process.exit(70);
  };
  if (restored.journalRecords > 0 || docs > 0) {
    log.info(`restored ${docs} document(s) (${restored.journalRecords} journal record(s) replayed)`);
  }
  return journal;
}

/** A data dir from before random ids: its sign-ins' ids were guessable. */
async function endGuessableSignIns(engine: Engine, log: Logger) {
  const ended = await endCounterSignIns(engine);
  if (ended.sessions + ended.refreshTokens > 0) {
    log.warn(
      `upgraded a data dir made with guessable document ids: ended ${ended.sessions} sign-in(s) and ` +
        `${ended.refreshTokens} refresh token(s); everyone signs in again (all other data is kept)`,
    );
  }
}

/** Verifies tokens as convex/auth.config.ts says; our own site's key URLs are served in-process. */
async function makeVerifier(engine: Engine, siteUrl: string, derivedSiteUrl: string): Promise<IdentityVerifier> {
  const authConfig = (await engine.loadModule("auth.config"))?.default;
  const siteOriginUrl = new URL(siteUrl).origin;
  return new IdentityVerifier(providersOf(authConfig), async (u) => {
    const target = new URL(u);
    if (target.origin === siteOriginUrl || target.origin === new URL(derivedSiteUrl).origin) {
      // Our own site: straight through the router, no socket.
      const r = await siteOrigin.run(target.origin, () => engine.fetch(target.pathname + target.search, { method: "GET" }));
      return { status: r.status, text: await r.text() };
    }
    const r = await fetch(u, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, text: await r.text() };
  });
}
