/**
 * `npm run env:generate` — fresh secrets for a real Convex deployment, printed
 * as `npx convex env set` commands (stdout only; nothing is written to disk).
 *
 *   npm run env:generate -- [--prod] [--site-url https://app.example.com]
 *
 * CONVEX_SITE_URL is provided by Convex itself on a real deployment.
 */
import { envSetCommands, generateEnv } from "../local/env.js";

const argv = process.argv.slice(2);
const prod = argv.includes("--prod");
const i = argv.indexOf("--site-url");
const siteUrl = i >= 0 ? argv[i + 1] : undefined;

const env = await generateEnv();
if (siteUrl) env.SITE_URL = siteUrl;
console.log("# Secrets for a Convex deployment of keyhole (run these, then `npx convex deploy`).");
console.log("# SITE_URL is the dashboard's URL; change it if you host the dashboard elsewhere.");
for (const line of envSetCommands({ ...env }, { prod })) console.log(line);
