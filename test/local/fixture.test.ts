// Engine features that keyhole's own functions don't exercise in isolation,
// against a small fixture app (test/local/fixture/convex): HTTP actions,
// request metadata, identity providers, crons, scheduled functions, index
// lookups with pending writes, and live-query invalidation.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";

const api = anyApi;
const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture", "convex");

let b: SpawnedBackend;
let es: { privateKey: CryptoKey; jwk: JWK };
let rs: { privateKey: CryptoKey; jwk: JWK };

beforeAll(async () => {
  const e = await generateKeyPair("ES256", { extractable: true });
  const r = await generateKeyPair("RS256", { extractable: true });
  es = { privateKey: e.privateKey, jwk: { ...(await exportJWK(e.publicKey)), kid: "es-1", alg: "ES256" } };
  rs = { privateKey: r.privateKey, jwk: { ...(await exportJWK(r.publicKey)), kid: "rs-1", alg: "RS256" } };
  b = await spawnBackend({
    convexDir: fixtureDir,
    env: {
      FIXTURE_ES_JWKS_B64: Buffer.from(JSON.stringify({ keys: [es.jwk] })).toString("base64"),
      FIXTURE_RS_JWKS: JSON.stringify({ keys: [rs.jwk] }),
    },
  });
});
afterAll(async () => {
  await b?.stop();
});

function esToken(claims: Record<string, unknown>, opts: { aud?: string; exp?: string | number; kid?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "es-1" })
    .setIssuer("https://issuer.test")
    .setAudience(opts.aud ?? "fixture-app")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "1h")
    .sign(es.privateKey);
}
function rsToken(issuer: string, claims: Record<string, unknown>, key = rs.privateKey, kid = "rs-1", aud?: string) {
  const j = new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).setIssuer(issuer).setIssuedAt().setExpirationTime("1h");
  return (aud ? j.setAudience(aud) : j).sign(key);
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("HTTP actions", () => {
  test("real method, URL, headers, body, client IP and user agent", async () => {
    const res = await fetch(`${b.siteUrl}/echo?x=1&y=two`, {
      method: "POST",
      headers: { "content-type": "text/plain", "x-custom": "abc", "user-agent": "fixture-agent/1.0" },
      body: "hello body",
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-fixture")).toBe("yes");
    const echo = (await res.json()) as Record<string, unknown>;
    expect(echo.method).toBe("POST");
    expect(echo.url).toBe(`${b.siteUrl}/echo?x=1&y=two`);
    expect(echo.body).toBe("hello body");
    expect((echo.headers as Record<string, string>)["x-custom"]).toBe("abc");
    expect(echo.ip).toBe("127.0.0.1");
    expect(echo.userAgent).toBe("fixture-agent/1.0");
    expect(echo.identity).toBeNull();
  });

  test("path prefixes, multiple Set-Cookie headers, streamed bodies, 404 and errors", async () => {
    const put = (await (await fetch(`${b.siteUrl}/echo/a/b`, { method: "PUT", body: "x" })).json()) as { url: string };
    expect(put.url).toBe(`${b.siteUrl}/echo/a/b`);
    const cookies = await fetch(`${b.siteUrl}/cookies`);
    expect(cookies.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    const stream = await fetch(`${b.siteUrl}/stream`);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    expect(await stream.text()).toBe("data: 0\n\ndata: 1\n\ndata: 2\n\n");
    expect((await fetch(`${b.siteUrl}/nope`)).status).toBe(404);
    const boom = await fetch(`${b.siteUrl}/boom`);
    expect(boom.status).toBe(500);
    expect((await fetch(`${b.siteUrl}/echo`)).status).toBe(201); // still serving
  });

  test("a stream that stays open: what it wrote reaches the client before it ends", async () => {
    const res = await fetch(`${b.siteUrl}/stream-open`);
    const reader = res.body!.getReader();
    const first = await reader.read(); // never arrives if the response were held until the stream ends
    expect(new TextDecoder().decode(first.value)).toBe("data: first\n\n");
    await reader.cancel();
  });

  test("a valid Bearer JWT is the handler's identity; a rejected one makes getUserIdentity() throw, as on Convex", async () => {
    const token = await esToken({ sub: "agent-7", name: "Agent Seven" });
    const get = async (authorization?: string) => {
      const r = await fetch(`${b.siteUrl}/identity`, { headers: authorization ? { authorization } : {} });
      expect(r.status).toBe(200); // the action runs either way
      return (await r.json()) as { own: Record<string, unknown> | null; thrown: string | null; inQuery: unknown; inMutation: unknown };
    };
    const ok = await get(`Bearer ${token}`);
    expect(ok.thrown).toBeNull();
    expect(ok.own).toMatchObject({ subject: "agent-7", issuer: "https://issuer.test", name: "Agent Seven" });
    expect(ok.inQuery).toMatchObject({ subject: "agent-7" });

    expect(await get()).toEqual({ own: null, thrown: null, inQuery: null, inMutation: null });

    const expired = await esToken({ sub: "u" }, { exp: Math.floor(Date.now() / 1000) - 60 });
    const foreign = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer("https://elsewhere.example")
      .setExpirationTime("1h")
      .sign(es.privateKey);
    for (const authorization of [`Bearer ${token}x`, "Bearer garbage", `Bearer ${expired}`, `Bearer ${foreign}`, "Basic YTpi"]) {
      const r = await get(authorization);
      // Convex: Identity::Unknown(error) — the action's getUserIdentity() throws
      // the error; queries and mutations it runs see no identity.
      expect({ authorization, thrown: typeof r.thrown, inQuery: r.inQuery, inMutation: r.inMutation }).toEqual({
        authorization,
        thrown: "string",
        inQuery: null,
        inMutation: null,
      });
    }
    // An echo handler that does not catch it fails like any throwing action.
    const bad = await fetch(`${b.siteUrl}/echo`, { headers: { authorization: `Bearer ${token}x` } });
    expect(bad.status).toBe(500);
  });
});

describe("identity", () => {
  // Convex builds a customJwt identity from the token's private claims under
  // their own names, nested objects as dotted keys, sorted (get-convex/convex-backend:
  // crates/keybroker/src/broker.rs from_custom_jwt, extract_custom_jwt_claims).
  test("customJwt (data: URI key set): claims keep their names, nested ones become dotted keys, as on Convex", async () => {
    const token = await esToken({
      sub: "user-1",
      name: "Ada",
      email: "ada@example.com",
      email_verified: true,
      given_name: "Ada",
      picture: "https://example.com/a.png",
      org: "acme",
      roles: ["a", "b"],
      properties: { id: "123", team: { name: "core", size: 3 }, empty: {} },
      items: [{ a: 1 }],
      none: null,
      fva: [1, 2],
      jti: "j-1",
      nbf: Math.floor(Date.now() / 1000) - 10,
    });
    const want = {
      tokenIdentifier: "https://issuer.test|user-1",
      issuer: "https://issuer.test",
      subject: "user-1",
      email: "ada@example.com",
      email_verified: true,
      given_name: "Ada",
      items: [{ a: 1 }],
      name: "Ada",
      none: null,
      org: "acme",
      picture: "https://example.com/a.png",
      "properties.id": "123",
      "properties.team.name": "core",
      "properties.team.size": 3,
      roles: ["a", "b"],
    };
    // Every field and nothing else: no givenName, no nested `properties`, no iat/exp/aud/jti/nbf/fva.
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toEqual(want);
    // Inside the function (a returned object's keys come back sorted): the three
    // fields first, then the claims sorted, as Convex's JSON has them.
    expect(await b.httpClient(token).query(api.fixture.identityKeys, {})).toEqual({ keys: Object.keys(want), inheritsAdmin: false });
  });

  test("customJwt: a private claim named like a field replaces its value, as serde's flatten does on Convex", async () => {
    const token = await esToken({ sub: "user-2", subject: "claimed" });
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toEqual({
      tokenIdentifier: "https://issuer.test|user-2",
      issuer: "https://issuer.test",
      subject: "claimed",
    });
  });

  test("a function that changes its identity object changes nothing another call sees (a fresh copy per call, as on Convex)", async () => {
    const token = await esToken({ sub: "user-7", roles: ["reader"] });
    const client = b.httpClient(token);
    for (let i = 0; i < 2; i++) {
      // Twice: the second request reuses the engine's accessor for this identity.
      expect(await client.mutation(api.fixture.tamperWithIdentity, {})).toEqual({ sameObject: false, secondSubject: "user-7" });
      expect(await client.query(api.fixture.whoami, {})).toMatchObject({ subject: "user-7", roles: ["reader"] });
    }
  });

  test("customJwt: wrong audience, wrong key, expired and alg mismatch are refused", async () => {
    const refused = async (t: string) =>
      expect(b.httpClient(t).query(api.fixture.whoami, {})).rejects.toThrow(/Unauthenticated/);
    await refused(await esToken({ sub: "u" }, { aud: "someone-else" }));
    await refused(await esToken({ sub: "u" }, { exp: Math.floor(Date.now() / 1000) - 60 }));
    const other = await generateKeyPair("ES256");
    await refused(
      await new SignJWT({ sub: "u" })
        .setProtectedHeader({ alg: "ES256", kid: "es-1" })
        .setIssuer("https://issuer.test")
        .setAudience("fixture-app")
        .setExpirationTime("1h")
        .sign(other.privateKey),
    );
    // HS256 with the public key as secret (the classic confusion attack).
    const hs = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://issuer.test")
      .setAudience("fixture-app")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(JSON.stringify(es.jwk)));
    await refused(hs);
  });

  test("customJwt with a JWKS URL on the backend's own site is resolved in-process; unknown kid refetches", async () => {
    const token = await rsToken(`${b.siteUrl}/custom`, { sub: "svc" });
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toMatchObject({ subject: "svc", issuer: `${b.siteUrl}/custom` });
    const fetches = (await b.httpClient().query(api.fixture.events, { kind: "jwks-fetch" })) as Array<{ ip: string | null }>;
    expect(fetches.length).toBeGreaterThanOrEqual(1);
    // Through the router directly: no socket, so no client IP.
    expect(fetches.every((f) => f.ip === null)).toBe(true);

    // Rotate: a new key (new kid) appears in the served JWKS.
    const next = await generateKeyPair("RS256", { extractable: true });
    const nextJwk = { ...(await exportJWK(next.publicKey)), kid: "rs-2", alg: "RS256" };
    await b.httpClient().mutation(api.fixture.setJwks, { json: JSON.stringify({ keys: [rs.jwk, nextJwk] }) });
    await new Promise((r) => setTimeout(r, 1100)); // refetches are rate-limited to one a second
    const rotated = await rsToken(`${b.siteUrl}/custom`, { sub: "svc2" }, next.privateKey, "rs-2");
    expect(await b.httpClient(rotated).query(api.fixture.whoami, {})).toMatchObject({ subject: "svc2" });
  });

  test("OIDC provider: discovery → jwks_uri, audience = applicationID", async () => {
    const token = await rsToken(b.siteUrl, { sub: "person" }, rs.privateKey, "rs-1", "convex");
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toEqual({
      tokenIdentifier: `${b.siteUrl}|person`,
      issuer: b.siteUrl,
      subject: "person",
    });
    const wrongAud = await rsToken(b.siteUrl, { sub: "person" }, rs.privateKey, "rs-1", "other");
    await expect(b.httpClient(wrongAud).query(api.fixture.whoami, {})).rejects.toThrow(/Unauthenticated/);
  });

  // Convex: crates/keybroker/src/broker.rs from_token — standard claims as typed
  // fields (in UserIdentityAttributesJson's order), the rest as they are, sorted.
  test("OIDC provider: standard claims become UserIdentity's typed fields, others pass as they are", async () => {
    const claims = {
      sub: "person",
      website: "https://ada.example",
      updated_at: 1_700_000_000,
      address: { formatted: "1 Main St", country: "UK" },
      picture: "https://example.com/a.png",
      given_name: "Ada",
      email_verified: true,
      locale: "en-GB",
      zoneinfo: "Europe/London",
      birthdate: "1815-12-10",
      profile: "https://example.com/ada",
      nonce: "n-1",
      azp: "client",
      auth_time: 1_700_000_000,
      jti: "j-1",
      fva: [0, 0],
      team: { id: 7 },
      zeta: 1,
      alpha: "a",
    };
    const token = await rsToken(b.siteUrl, claims, rs.privateKey, "rs-1", "convex");
    const want = {
      tokenIdentifier: `${b.siteUrl}|person`,
      issuer: b.siteUrl,
      subject: "person",
      givenName: "Ada",
      profileUrl: "https://example.com/ada",
      pictureUrl: "https://example.com/a.png",
      websiteUrl: "https://ada.example",
      emailVerified: true,
      birthday: "1815-12-10",
      timezone: "Europe/London",
      language: "en-GB",
      address: "1 Main St",
      updatedAt: "2023-11-14T22:13:20+00:00",
      alpha: "a",
      team: { id: 7 },
      zeta: 1,
    };
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toEqual(want);
    expect(await b.httpClient(token).query(api.fixture.identityKeys, {})).toEqual({ keys: Object.keys(want), inheritsAdmin: false });
  });

  // openidconnect (get-convex/openidconnect-rs, src/claims.rs `should_include`) keeps
  // `middle_name`, `birthday` and language-tagged claims (`name#en`) out of the
  // additional claims, and Convex has no field for them: they are gone.
  test("OIDC provider: middle_name, birthday and language-tagged standard claims are dropped, as openidconnect drops them", async () => {
    const claims = { sub: "tagged", birthdate: "1815-12-10", birthday: "forged", middle_name: "M", "name#en": "Ada", "given_name#ja-Kana-JP": "エイダ", "website#en": "https://w.example" };
    const token = await rsToken(b.siteUrl, claims, rs.privateKey, "rs-1", "convex");
    expect(await b.httpClient(token).query(api.fixture.whoami, {})).toEqual({
      tokenIdentifier: `${b.siteUrl}|tagged`,
      issuer: b.siteUrl,
      subject: "tagged",
      birthday: "1815-12-10",
    });
  });

  // openidconnect's Timestamp::to_utc (src/helpers.rs): whole seconds floored, nanoseconds
  // floored from the fraction, or an RFC 3339 string; chrono's to_rfc3339 prints 0/3/6/9
  // fraction digits (SecondsFormat::AutoSi) and a signed year outside 0..=9999.
  test("OIDC provider: updated_at as chrono prints it (floored nanoseconds, RFC 3339 strings, far years)", async () => {
    const cases: Array<[unknown, string]> = [
      [1_700_000_000.1, "2023-11-14T22:13:20.099999904+00:00"],
      [1_700_000_000.9999, "2023-11-14T22:13:20.999900102+00:00"],
      [1_700_000_000.5, "2023-11-14T22:13:20.500+00:00"],
      [0.00025, "1970-01-01T00:00:00.000250+00:00"],
      [253_402_300_800, "+10000-01-01T00:00:00+00:00"],
      ["2023-11-14T23:13:20.5+01:00", "2023-11-14T22:13:20.500+00:00"],
    ];
    for (const [updated_at, want] of cases) {
      const token = await rsToken(b.siteUrl, { sub: "u", updated_at }, rs.privateKey, "rs-1", "convex");
      expect(((await b.httpClient(token).query(api.fixture.whoami, {})) as { updatedAt?: string }).updatedAt, String(updated_at)).toBe(want);
    }
  });

  // Convex refuses the whole token when a standard claim has the wrong type
  // (openidconnect fails to deserialize it: "Could not parse as OIDC ID token").
  test("OIDC provider: a standard claim of the wrong type refuses the token", async () => {
    for (const bad of [{ given_name: 5 }, { email: ["a@b.c"] }, { email_verified: "true" }, { address: "1 Main St" }, { updated_at: true }, { updated_at: "yesterday" }, { updated_at: 1e300 }, { "email#en": "a@b.c" }, { "sub#x": "s" }, { name: "A", "name#": "B" }]) {
      const token = await rsToken(b.siteUrl, { sub: "typed", ...bad }, rs.privateKey, "rs-1", "convex");
      await expect(b.httpClient(token).query(api.fixture.whoami, {}), JSON.stringify(bad)).rejects.toThrow(/Could not parse as OIDC ID token/);
    }
    const ok = await rsToken(b.siteUrl, { sub: "typed", given_name: null, email_verified: false }, rs.privateKey, "rs-1", "convex");
    expect(await b.httpClient(ok).query(api.fixture.whoami, {})).toEqual({ tokenIdentifier: `${b.siteUrl}|typed`, issuer: b.siteUrl, subject: "typed", emailVerified: false });
  });

  // serde_json's recursion limit (128): a payload nested 128 containers deep does not
  // parse on Convex ("Could not parse JWT payload"); 127 does.
  test("a payload nested deeper than serde_json's limit is refused; at the limit it is flattened", async () => {
    const nested = (levels: number): unknown => (levels === 0 ? 1 : { a: nested(levels - 1) });
    const atLimit = await esToken({ sub: "deep", d: nested(126) }); // 1 (payload) + 126 objects
    const who = (await b.httpClient(atLimit).query(api.fixture.whoami, {})) as Record<string, unknown>;
    expect(who[`d${".a".repeat(126)}`]).toBe(1);
    const over = await esToken({ sub: "deep", d: [nested(126)] }); // an array counts too: 128
    await expect(b.httpClient(over).query(api.fixture.whoami, {})).rejects.toThrow(/Unauthenticated/);
  });

  // serde_json refuses a \u escape that leaves a surrogate alone ("lone leading surrogate
  // in hex escape"), in a value or a key: such a payload does not parse on Convex.
  test("a payload with a lone surrogate escape is refused, as serde_json refuses it", async () => {
    for (const text of ['{"sub":"s1","x":"\\ud800"}', '{"sub":"s1","\\udc00":1}', '{"sub":"s1","x":{"y":["\\ud800a"]}}']) {
      const token = await esToken(JSON.parse(text) as Record<string, unknown>);
      await expect(b.httpClient(token).query(api.fixture.whoami, {}), text).rejects.toThrow(/Could not parse JWT payload/);
    }
    const pair = await esToken(JSON.parse('{"sub":"s1","x":"\\ud83d\\ude00"}') as Record<string, unknown>);
    expect(((await b.httpClient(pair).query(api.fixture.whoami, {})) as Record<string, unknown>).x).toBe("\u{1F600}");
  });

  // from_custom_jwt removes `fva` after flattening: a nested `fva` object's dotted keys stay.
  // Every payload is first read as biscuit's RegisteredClaims (`jti` a string) to pick the provider.
  test("customJwt: only a claim named exactly `fva` is dropped; a non-string jti refuses the token", async () => {
    const nested = await esToken({ sub: "f1", fva: { x: 1 } });
    expect(((await b.httpClient(nested).query(api.fixture.whoami, {})) as Record<string, unknown>)["fva.x"]).toBe(1);
    const jti = await esToken({ sub: "f1", jti: 5 });
    await expect(b.httpClient(jti).query(api.fixture.whoami, {})).rejects.toThrow(/Could not parse JWT payload/);
  });

  // extract_custom_jwt_claims inserts into one BTreeMap in document order: the later of two
  // claims that flatten to one name wins.
  test("customJwt: claims that flatten to one name — the later one in the token wins", async () => {
    const first = await esToken(JSON.parse('{"sub":"c1","a":{"b":1},"a.b":2}') as Record<string, unknown>);
    expect(((await b.httpClient(first).query(api.fixture.whoami, {})) as Record<string, unknown>)["a.b"]).toBe(2);
    const second = await esToken(JSON.parse('{"sub":"c2","a.b":2,"a":{"b":1}}') as Record<string, unknown>);
    expect(((await b.httpClient(second).query(api.fixture.whoami, {})) as Record<string, unknown>)["a.b"]).toBe(1);
  });

  // Rust's BTreeMap<String, _> orders by UTF-8 bytes (= code points), not UTF-16 units:
  // U+FFFF sorts before U+10000 there, after it in a JS `<` comparison.
  test("custom claims are sorted by code point, as Convex's BTreeMap sorts them", async () => {
    const token = await esToken({ sub: "sorted", "\u{10000}": 1, "\uffff": 2, b: 3 });
    expect(await b.httpClient(token).query(api.fixture.identityKeys, {})).toEqual({
      keys: ["tokenIdentifier", "issuer", "subject", "b", "\uffff", "\u{10000}"],
      inheritsAdmin: false,
    });
  });

  // openidconnect collects the additional claims as serde_value::Value, whose maps are
  // BTreeMaps (helpers.rs FilteredFlatten): an OIDC claim's nested objects reach the
  // function with their keys sorted, at every depth, arrays included; customJwt keeps
  // the token's order (broker.rs `value.to_string()` with preserve_order).
  test("OIDC: nested objects in a custom claim arrive with sorted keys; customJwt keeps the token's order", async () => {
    const team = { z: 1, a: { y: 2, b: 3 }, list: [{ d: 4, c: 5 }] };
    const oidc = await rsToken(b.siteUrl, { sub: "nested", team }, rs.privateKey, "rs-1", "convex");
    expect((await b.httpClient(oidc).query(api.fixture.identityJson, {})) as string).toContain(
      '"team":{"a":{"b":3,"y":2},"list":[{"c":5,"d":4}],"z":1}',
    );
    const custom = await esToken({ sub: "nested", items: [{ d: 4, c: 5 }] });
    expect((await b.httpClient(custom).query(api.fixture.identityJson, {})) as string).toContain('"items":[{"d":4,"c":5}]');
  });

  test("the socket: Authenticate with a valid token; a token for an unknown issuer gets AuthError", async () => {
    const c = b.client();
    const token = await esToken({ sub: "ws-user" });
    const changes: boolean[] = [];
    const confirmed = new Promise<void>((resolve) =>
      c.setAuth(
        async () => token,
        (ok) => {
          changes.push(ok);
          resolve();
        },
      ),
    );
    await confirmed;
    expect(changes).toEqual([true]);
    expect(await c.query(api.fixture.whoami, {})).toMatchObject({ subject: "ws-user" });

    const bad = b.client();
    const stranger = await new SignJWT({ sub: "x" })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer("https://unknown.example")
      .setExpirationTime("1h")
      .sign(es.privateKey);
    const result = await new Promise<boolean>((resolve) => bad.setAuth(async () => stranger, resolve));
    expect(result).toBe(false);
  });
});

describe("functions", () => {
  test("Convex's transaction limits apply: 4096 index ranges pass, 4097 fail; 1001 scheduled functions fail", async () => {
    const http = b.httpClient();
    expect(await http.query(api.fixture.manyIndexRanges, { count: 4096 })).toBe(0);
    await expect(http.query(api.fixture.manyIndexRanges, { count: 4097 })).rejects.toThrow(/Too many index ranges read.*limit: 4096/);
    await expect(http.mutation(api.fixture.scheduleMany, { count: 1001 })).rejects.toThrow(/Scheduled too many functions.*limit: 1000/);
    await http.mutation(api.fixture.scheduleMany, { count: 3 }); // under the limit: fine
  });

  test("request metadata reaches ctx.meta over HTTP", async () => {
    const res = await fetch(`${b.url}/api/mutation`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "meta-test/2" },
      body: JSON.stringify({ path: "fixture:meta", args: [{}], format: "convex_encoded_json" }),
    });
    expect(await res.json()).toMatchObject({ status: "success", value: { ip: "127.0.0.1", userAgent: "meta-test/2" } });
  });

  test("ConvexError data with nested values and bigints round-trips on both clients", async () => {
    const expected = { code: "teapot", detail: { big: 1234567890123456789n, list: [1, "two", null] } };
    const e1 = await b.httpClient().mutation(api.fixture.fail, { code: "teapot" }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ConvexError);
    expect((e1 as { data: unknown }).data).toEqual(expected);
    const e2 = await b.client().mutation(api.fixture.fail, { code: "teapot" }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ConvexError);
    expect((e2 as { data: unknown }).data).toEqual(expected);
    const e3 = await b.client().query(api.fixture.failQuery, {}).catch((e: unknown) => e);
    expect((e3 as { data: unknown }).data).toEqual({ code: "nope" });
  });

  test("internal functions are not callable by clients", async () => {
    await expect(b.httpClient().query(api.fixture.secret, {})).rejects.toThrow(/Could not find public function/);
    await expect(b.httpClient().mutation(api.fixture.addInternal, { text: "x" })).rejects.toThrow(
      /Could not find public function/,
    );
  });

  test("index lookups see the transaction's own pending writes", async () => {
    const n = 900_000 + Math.floor(Math.random() * 1000);
    const r = (await b.httpClient().mutation(api.fixture.insertThenRead, { n })) as {
      id: string;
      seen: string[];
      after: string[];
      moved: string[];
    };
    expect(r.seen).toEqual([r.id]);
    expect(r.after).toEqual([]);
    expect(r.moved).toEqual([r.id]);
    expect(await b.httpClient().query(api.fixture.byN, { n: n + 1 })).toEqual([`pending-${n}`]);
  });

  test("index ranges: equality prefix + bounds + order", async () => {
    const http = b.httpClient();
    const tag = `t${Date.now()}`;
    for (const n of [5, 1, 9, 3, 7]) await http.mutation(api.fixture.add, { text: `r${n}`, n, tag });
    await http.mutation(api.fixture.add, { text: "other", n: 4, tag: `${tag}x` });
    expect(await http.query(api.fixture.byTagRange, { tag, lo: 3, hi: 9 })).toEqual([7, 5, 3]);
  });

  test("crons run on schedule", async () => {
    const events = await eventually(
      () => b.httpClient().query(api.fixture.events, { kind: "cron" }) as Promise<unknown[]>,
      (v) => v.length >= 2,
    );
    expect(events.length).toBeGreaterThanOrEqual(2);
  });

  test("scheduled functions run", async () => {
    const text = `scheduled-${Date.now()}`;
    await b.httpClient().mutation(api.fixture.scheduleAdd, { text, delayMs: 200 });
    const list = await eventually(
      () => b.httpClient().query(api.fixture.list, {}) as Promise<Array<{ text: string }>>,
      (v) => v.some((d) => d.text === text),
    );
    expect(list.some((d) => d.text === text)).toBe(true);
  });
});

describe("live queries", () => {
  test("re-run exactly when a commit touches what they read", async () => {
    const c = b.client();
    const http = b.httpClient();
    const n = 700_000 + Math.floor(Math.random() * 1000);
    const updates: string[][] = [];
    let notify: () => void = () => {};
    c.onUpdate(api.fixture.byN, { n }, (v) => {
      updates.push(v as string[]);
      notify();
    });
    const next = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`expected ${count} updates, got ${updates.length}`)), 5000);
        const check = () => {
          if (updates.length >= count) {
            clearTimeout(t);
            resolve();
          }
        };
        notify = check;
        check();
      });
    await next(1);
    expect(updates[0]).toEqual([]);
    const id = (await http.mutation(api.fixture.add, { text: "a", n })) as string;
    await next(2);
    expect(updates[1]).toEqual(["a"]);
    // Writes elsewhere in the table don't change the result: no update.
    await http.mutation(api.fixture.add, { text: "elsewhere", n: n + 1 });
    // Moving the document out of the range does.
    await http.mutation(api.fixture.setN, { id, n: n + 2 });
    await next(3);
    expect(updates[2]).toEqual([]);
    expect(updates).toHaveLength(3);
    // Moving it back in, then deleting it.
    await http.mutation(api.fixture.setN, { id, n });
    await next(4);
    expect(updates[3]).toEqual(["a"]);
    await http.mutation(api.fixture.remove, { id });
    await next(5);
    expect(updates[4]).toEqual([]);
  });

  test("single-document reads update on patch", async () => {
    const c = b.client();
    const http = b.httpClient();
    const id = (await http.mutation(api.fixture.add, { text: "doc", n: 1 })) as string;
    const seen: number[] = [];
    let loaded!: () => void;
    const first = new Promise<void>((r) => (loaded = r));
    const done = new Promise<void>((resolve) =>
      c.onUpdate(api.fixture.get, { id }, (d) => {
        seen.push((d as { n: number } | null)?.n ?? -1);
        loaded();
        if (seen.includes(42)) resolve();
      }),
    );
    await first; // the subscription holds its first value before the write
    await http.mutation(api.fixture.setN, { id, n: 42 });
    await done;
    expect(seen[0]).toBe(1);
    expect(seen.at(-1)).toBe(42);
  });
});
