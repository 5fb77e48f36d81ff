import { seed } from "../lib/seed";
import { mkdtempSync } from "node:fs";
const dir = mkdtempSync("/tmp/kh-seed-");
const r = await seed({ dataDir: dir, tokens: 1000, auditEvents: 20000 });
console.log(dir, r.tokens.length, r.users.length, r.auditEvents, r.seedMs);
process.exit(0);
