import { api } from "../../convex/_generated/api";
import { spawnBackend } from "../../test/helpers/backend";
const b = await spawnBackend();
const c = b.httpClient();
let t = Date.now();
const r: any = await c.action(api.auth.signIn, { provider: "password", params: { email: "a@x.test", password: "correct horse battery", flow: "signUp" } });
console.log("signup ms", Date.now() - t);
c.setAuth(r.tokens.token);
t = Date.now();
const toks: any[] = [];
for (let i = 0; i < 20; i++) toks.push(await c.mutation(api.auth.createApiToken, { name: "t" + i, scopes: [] }));
console.log("20 creates ms", Date.now() - t);
try { await c.mutation(api.auth.createApiToken, { name: "t21", scopes: [] }); } catch (e) { console.log("21st:", (e as any).data); }
t = Date.now();
for (let i = 0; i < 200; i++) { const res = await fetch(b.siteUrl + "/api/whoami", { headers: { authorization: "Bearer " + toks[i % 20].token } }); if (res.status !== 200) console.log(res.status, await res.text()); else await res.text(); }
console.log("200 whoami ms", Date.now() - t);
const res = await fetch(b.siteUrl + "/api/whoami", { headers: { authorization: "Bearer " + toks[0].token } });
console.log(await res.text());
await b.stop();
