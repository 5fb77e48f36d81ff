// Clickjacking the consent screen: an attacker's page frames keyhole's
// consent URL (for the attacker's own client) under a decoy button, hoping
// the signed-in person clicks "Allow" without seeing it. The attacker's page
// is on the same site as the dashboard (another port of 127.0.0.1), so the
// framed dashboard shares the person's sign-in, as a sibling subdomain would.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { callbackServer, type Stack, startStack, WAIT } from "./stack";

let stack: Stack;
let attacker: http.Server;
let attackerUrl = "";
let consentUrl = "";

beforeAll(async () => {
  stack = await startStack({ browser: true });
  attacker = http.createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>Win a prize</title><button>Claim your prize</button>
      <iframe src="${consentUrl}" style="position:absolute;top:0;left:0;width:900px;height:900px;border:0"></iframe>`);
  });
  await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", r));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
}, 300_000);

afterAll(async () => {
  attacker?.closeAllConnections();
  await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
  await stack?.stop();
});

test("the consent screen does not offer Allow inside another site's frame; in its own window it does", async () => {
  const cb = await callbackServer();
  try {
    const reg = await fetch(`${stack.site}/oauth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_name: "Prize app", redirect_uris: [cb.url], token_endpoint_auth_method: "none" }),
    });
    const clientId = ((await reg.json()) as { client_id: string }).client_id;
    const challenge = createHash("sha256").update(randomBytes(32).toString("base64url")).digest("base64url");
    const u = new URL(`${stack.site}/oauth/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: cb.url, code_challenge: challenge, code_challenge_method: "S256", scope: "work:read" })) {
      u.searchParams.set(k, v);
    }
    const a = await fetch(u, { redirect: "manual" });
    consentUrl = a.headers.get("location")!;
    expect(consentUrl).toContain("/consent?request=");

    const page = stack.page!;
    await page.goto(attackerUrl);
    const frame = page.frameLocator("iframe");
    const framedNotice = frame.getByText("keyhole does not work inside another page");
    const allowHeading = frame.getByRole("heading", { name: /^Allow .* to use keyhole\?$/ });
    await framedNotice.or(allowHeading).first().waitFor(WAIT);
    await expect(allowHeading.count()).resolves.toBe(0);
    await expect(frame.getByRole("button", { name: "Allow", exact: true }).count()).resolves.toBe(0);

    // The same request in its own window: the person sees it and can answer.
    await page.goto(consentUrl);
    await page.getByRole("heading", { name: "Allow Prize app to use keyhole?" }).waitFor(WAIT);
  } finally {
    await cb.stop();
  }
}, 120_000);
