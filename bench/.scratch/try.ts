import { spawnBackend } from "../../test/helpers/backend";
const b = await spawnBackend();
console.log(b.url, b.siteUrl, b.startupMs);
const r = await fetch(b.siteUrl + "/api/whoami");
console.log(r.status, await r.text());
await b.stop();
console.log(b.logs());
