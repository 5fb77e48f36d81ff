// The embedded backend's log redaction: secrets a function might print never
// reach stdout, whatever the line around them says.
import { describe, expect, test } from "vitest";
import { redact } from "../../local/log";

describe("log redaction", () => {
  const secrets = {
    jwt: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtoLWFiYyIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwYXQ6MSJ9.c2lnbmF0dXJlLWJ5dGVz",
    refresh: "khr_Qm9ndXNSZWZyZXNoVG9rZW5Gb3JUZXN0aW5n",
    encryptionKey: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
    pem: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    jwk: '{"kty":"EC","d":"c2VjcmV0LXNjYWxhci12YWx1ZQ","x":"pub"}',
    bearer: "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
  };

  for (const [kind, secret] of Object.entries(secrets)) {
    test(`a ${kind} is replaced by [redacted]`, () => {
      const line = redact(`before ${secret} after`);
      expect(line).toContain("[redacted]");
      expect(line.startsWith("before ")).toBe(true);
      expect(line.endsWith(" after")).toBe(true);
      const secretCore = kind === "jwk" ? "c2VjcmV0LXNjYWxhci12YWx1ZQ" : kind === "bearer" ? "abcdefghijklmnopqrstuvwxyz012345" : secret;
      expect(line).not.toContain(secretCore);
    });
  }

  test("ordinary lines pass through unchanged", () => {
    const line = "POST /api/mutation auth:createApiToken 200 4.1 ms";
    expect(redact(line)).toBe(line);
  });
});
