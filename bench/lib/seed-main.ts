// Child-process entry for seed(): SEED_DIR, SEED_SITE_PORT, SEED_TOKENS, SEED_AUDIT, SEED_BULK, SEED_OUT
// (a JSON file written with mode 0600: it holds token texts).
import { writeFileSync } from "node:fs";
import { seed } from "./seed";

const result = await seed({
  dataDir: process.env.SEED_DIR!,
  sitePort: Number(process.env.SEED_SITE_PORT),
  tokens: Number(process.env.SEED_TOKENS ?? "0"),
  auditEvents: Number(process.env.SEED_AUDIT ?? "0"),
  bulk: process.env.SEED_BULK === "1",
});
writeFileSync(process.env.SEED_OUT!, JSON.stringify(result), { mode: 0o600 });
process.exit(0);
