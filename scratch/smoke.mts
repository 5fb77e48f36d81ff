import { spawnBackend } from "/work/wt15/test/helpers/backend";
import { signUpFresh } from "/work/wt15/test/helpers/signup";
const b = await spawnBackend();
try {
  const get = async (p: string) => { const r = await fetch(b.siteUrl + p); return [r.status, await r.text()]; };
  console.log(await get("/.well-known/oauth-authorization-server"));
  console.log(await get("/.well-known/oauth-protected-resource/mcp"));
  console.log(await get("/.well-known/openid-configuration"));
  console.log(await get("/.well-known/oauth-protected-resource"));
  const u = await signUpFresh(b);
  console.log("signed up", !!u.token);
  const r = await fetch(b.siteUrl + "/mcp", { method: "POST", headers: {"content-type":"application/json", accept: "application/json, text/event-stream"}, body: JSON.stringify({jsonrpc:"2.0", id:1, method:"tools/list"})});
  console.log(r.status, r.headers.get("www-authenticate"));
  const reg = await fetch(b.siteUrl + "/oauth/register", {method:"POST", headers: {"content-type":"application/json"}, body: JSON.stringify({redirect_uris:["http://127.0.0.1:9999/cb"], client_name:"Smoke", token_endpoint_auth_method:"none"})});
  console.log(reg.status, await reg.text());
} finally { await b.stop(); }
