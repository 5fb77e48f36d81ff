/**
 * `npm run env:generate` — fresh secrets for a real Convex deployment, printed
 * as `npx convex env set` commands (stdout only; nothing is written to disk).
 *
 *   npm run env:generate -- [--prod] [--site-url https://app.example.com] [--issuer URL]
 *
 * CONVEX_SITE_URL is provided by Convex itself on a real deployment.
 * KEYHOLE_ISSUER is generated (a fresh https://keyhole.invalid/<id>) unless
 * --issuer gives it: a deployment whose tokens predate KEYHOLE_ISSUER passes
 * `--issuer https://<deployment>.convex.site/keyhole`, what its tokens carry.
 */
import { envSetCommands, generateEnv } from "../local/env.js";

const argv = process.argv.slice(2);
const prod = argv.includes("--prod");
const i = argv.indexOf("--site-url");
const siteUrl = i >= 0 ? argv[i + 1] : undefined;
const j = argv.indexOf("--issuer");
const issuer = j >= 0 ? argv[j + 1] : undefined;
if (issuer !== undefined && !/^https?:\/\/[^/\s?#]+/.test(issuer)) {
  console.error("env:generate: --issuer must be an http(s) URL");
  process.exit(1);
}

const env = await generateEnv();
if (siteUrl) env.SITE_URL = siteUrl;
if (issuer) env.KEYHOLE_ISSUER = issuer.replace(/\/+$/, "");
console.log("# Secrets for a Convex deployment of keyhole (run these, then `npx convex deploy`).");
console.log("# SITE_URL is the dashboard's URL; change it if you host the dashboard elsewhere.");
console.log("# KEYHOLE_ISSUER names the issuer of every keyhole token: set it once and never change it");
console.log("# (copy it to any deployment you move to, or every PAT stops verifying).");
for (const line of envSetCommands({ ...env }, { prod })) console.log(line);
