import { spawnBackend } from "../../test/helpers/backend";
const b = await spawnBackend();
for (const body of [
  { path: "items:get", args: [{ workspace: 3 }], format: "json" },
  { path: "items:get", args: [{ workspace: "a/b", name: "x" }], format: "json" },
  { path: "auth:signIn", args: [{ provider: "nope" }], format: "json" },
  { path: "auth:signIn", args: [{ provider: "password", params: {email: 5} }], format: "json" },
  { path: "nope:nope", args: [{}], format: "json" },
  { path: "auth:store", args: [{}], format: "json" },
  { path: "items:get", args: "zzz", format: "json" },
]) {
  const r = await fetch(b.url + "/api/function", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  console.log(body.path, r.status, (await r.text()).slice(0, 300));
}
await b.stop();
