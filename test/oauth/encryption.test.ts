// AES-256-GCM at rest: round trip, fresh IVs, tamper and move detection, key ids and rotation.
import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  aadFor,
  DecryptionError,
  decryptSecret,
  encryptSecret,
  keyIdOfCiphertext,
  parseEncryptionKeys,
} from "../../convex/model/oauth/encryption";

const k = () => randomBytes(32).toString("base64");

describe("encryption", () => {
  test("round trip; the ciphertext names its key and never contains the plaintext", async () => {
    const keys = await parseEncryptionKeys(`k1:${k()}`);
    const blob = await encryptSecret("gho_secret-token", aadFor("oauthConnections", "row1", "accessToken"), keys);
    expect(blob).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(blob).not.toContain("secret-token");
    expect(keyIdOfCiphertext(blob)).toBe("k1");
    expect(await decryptSecret(blob, aadFor("oauthConnections", "row1", "accessToken"), keys)).toBe("gho_secret-token");
  });

  test("a random 96-bit IV per write: same plaintext, different ciphertexts", async () => {
    const keys = await parseEncryptionKeys(`k1:${k()}`);
    const ivs = new Set<string>();
    for (let i = 0; i < 50; i++) ivs.add((await encryptSecret("same", "aad", keys)).split(".")[2]);
    expect(ivs.size).toBe(50);
    expect(Buffer.from([...ivs][0], "base64url")).toHaveLength(12);
  });

  test("a tampered ciphertext, IV or tag fails to decrypt", async () => {
    const keys = await parseEncryptionKeys(`k1:${k()}`);
    const blob = await encryptSecret("token-value", "aad", keys);
    const [v, id, iv, ct] = blob.split(".");
    const flip = (s: string, at: number) => {
      const b = Buffer.from(s, "base64url");
      b[at] ^= 0x01;
      return b.toString("base64url");
    };
    for (const bad of [
      `${v}.${id}.${iv}.${flip(ct, 0)}`, // ciphertext body
      `${v}.${id}.${iv}.${flip(ct, Buffer.from(ct, "base64url").length - 1)}`, // tag
      `${v}.${id}.${flip(iv, 3)}.${ct}`, // IV
      `${v}.${id}.${iv}.${ct.slice(0, -4)}`, // truncated
      "garbage",
    ]) {
      await expect(decryptSecret(bad, "aad", keys)).rejects.toBeInstanceOf(DecryptionError);
    }
  });

  test("a ciphertext moved to another row or field fails (associated data)", async () => {
    const keys = await parseEncryptionKeys(`k1:${k()}`);
    const blob = await encryptSecret("token-value", aadFor("oauthConnections", "rowA", "accessToken"), keys);
    await expect(decryptSecret(blob, aadFor("oauthConnections", "rowB", "accessToken"), keys)).rejects.toThrow(/failed authentication/);
    await expect(decryptSecret(blob, aadFor("oauthConnections", "rowA", "refreshToken"), keys)).rejects.toThrow(/failed authentication/);
  });

  test("rotation: new writes use the first key; old ciphertexts stay readable while their key is listed", async () => {
    const old = k();
    const before = await parseEncryptionKeys(`k1:${old}`);
    const oldBlob = await encryptSecret("v", "aad", before);
    const after = await parseEncryptionKeys(`k2:${k()},k1:${old}`);
    expect(after.currentId).toBe("k2");
    expect(keyIdOfCiphertext(await encryptSecret("v", "aad", after))).toBe("k2");
    expect(await decryptSecret(oldBlob, "aad", after)).toBe("v");
    const dropped = await parseEncryptionKeys(`k2:${k()}`);
    await expect(decryptSecret(oldBlob, "aad", dropped)).rejects.toThrow(/"k1" is not configured/);
  });

  test("a key with the right id but other bytes cannot decrypt", async () => {
    const a = await parseEncryptionKeys(`k1:${k()}`);
    const b = await parseEncryptionKeys(`k1:${k()}`);
    await expect(decryptSecret(await encryptSecret("v", "aad", a), "aad", b)).rejects.toBeInstanceOf(DecryptionError);
  });

  test("bad key config is rejected without echoing key material", async () => {
    const short = randomBytes(16).toString("base64");
    await expect(parseEncryptionKeys(`k1:${short}`)).rejects.toThrow(/must be 32 bytes/);
    await expect(parseEncryptionKeys(`k1:${short}`)).rejects.not.toThrow(short);
    await expect(parseEncryptionKeys(`${k()}`)).rejects.toThrow(/expected "<keyId>:<base64/);
    await expect(parseEncryptionKeys(`k1:${k()},k1:${k()}`)).rejects.toThrow(/listed twice/);
    await expect(parseEncryptionKeys("")).rejects.toThrow(/empty/);
  });
});
