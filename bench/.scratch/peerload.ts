import { startPeerProcess } from "../peer/spawn";
import { runLoad } from "../lib/load";
const p = await startPeerProcess({ keys: 1000 });
console.log(p.storage, p.seedMs, p.keys.length);
const r = await runLoad({ url: p.url, path: "/api/whoami", headers: (i) => ({ authorization: `Bearer ${p.keys[i % p.keys.length]}` }), concurrency: 16, maxRequests: 5000, durationMs: 10000 });
console.log(r);
const bad = await runLoad({ url: p.url, path: "/api/whoami", headers: () => ({ authorization: `Bearer nope` }), concurrency: 4, maxRequests: 50, durationMs: 10000, warmup: 0 });
console.log(bad.statuses);
await p.stop();
