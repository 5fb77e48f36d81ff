/**
 * Secrets at rest (OAuth access/refresh tokens, PKCE verifiers): AES-256-GCM
 * with Web Crypto, so it runs in the Convex runtime, in queries, mutations
 * and actions alike.
 *
 * Keys: env KEYHOLE_ENCRYPTION_KEYS = `k1:<base64 of 32 bytes>[,k0:<...>]`.
 * The first key encrypts every new write; every listed key can decrypt, so a
 * rotation is "put the new key first, keep the old one, re-encrypt, drop the
 * old one" (docs/oauth.md).
 *
 * Stored form: `v1.<keyId>.<iv>.<ciphertext+tag>` (base64url). The IV is 96
 * random bits, fresh on every write. The associated data binds a ciphertext
 * to where it lives (table, row id, field), so a ciphertext copied to another
 * row or field fails authentication instead of decrypting.
 */
import { base64url } from "../crypto";

const VERSION = "v1";
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type EncryptionKeys = { currentId: string; keys: Map<string, CryptoKey> };

/** Raised when a ciphertext cannot be used: unknown key, malformed, tampered or moved. */
export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

let cache: { raw: string; keys: Promise<EncryptionKeys> } | null = null;

function fromBase64(text: string): Uint8Array {
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = std + "=".repeat((4 - (std.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Parses `id:base64[,id:base64...]`; the first entry is the current key. Errors never echo key material. */
export async function parseEncryptionKeys(raw: string): Promise<EncryptionKeys> {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error("KEYHOLE_ENCRYPTION_KEYS is empty");
  const keys = new Map<string, CryptoKey>();
  let currentId: string | null = null;
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(":");
    const id = colon > 0 ? entry.slice(0, colon) : "";
    if (!KEY_ID.test(id)) {
      throw new Error(`KEYHOLE_ENCRYPTION_KEYS entry ${index + 1}: expected "<keyId>:<base64 of 32 bytes>"`);
    }
    if (keys.has(id)) throw new Error(`KEYHOLE_ENCRYPTION_KEYS: key id "${id}" is listed twice`);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(entry.slice(colon + 1));
    } catch {
      throw new Error(`KEYHOLE_ENCRYPTION_KEYS: key "${id}" is not valid base64`);
    }
    if (bytes.length !== 32) {
      throw new Error(`KEYHOLE_ENCRYPTION_KEYS: key "${id}" must be 32 bytes (AES-256), got ${bytes.length}`);
    }
    const key = await crypto.subtle.importKey("raw", bytes as BufferSource, { name: "AES-GCM" }, false, [
      "encrypt",
      "decrypt",
    ]);
    keys.set(id, key);
    currentId ??= id;
  }
  return { currentId: currentId!, keys };
}

/** The keys from env KEYHOLE_ENCRYPTION_KEYS (parsed once per distinct value). */
export async function encryptionKeys(): Promise<EncryptionKeys> {
  const raw = process.env.KEYHOLE_ENCRYPTION_KEYS;
  if (!raw) throw new Error("KEYHOLE_ENCRYPTION_KEYS is not set");
  if (cache === null || cache.raw !== raw) {
    const keys = parseEncryptionKeys(raw);
    cache = { raw, keys };
    keys.catch(() => {
      if (cache?.keys === keys) cache = null;
    });
  }
  return await cache.keys;
}

/** The id of the key that encrypts new writes. */
export async function currentKeyId(): Promise<string> {
  return (await encryptionKeys()).currentId;
}

/** Associated data naming where a ciphertext lives: `<table>/<rowId>/<field>`. */
export function aadFor(table: string, rowId: string, field: string): string {
  return `keyhole/${table}/${rowId}/${field}`;
}

/** Encrypts under the current key with a fresh 96-bit IV. */
export async function encryptSecret(plaintext: string, aad: string, keys?: EncryptionKeys): Promise<string> {
  const k = keys ?? (await encryptionKeys());
  const key = k.keys.get(k.currentId)!;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(aad), tagLength: 128 },
    key,
    encoder.encode(plaintext),
  );
  return `${VERSION}.${k.currentId}.${base64url(iv)}.${base64url(new Uint8Array(ct))}`;
}

/** The key id a stored ciphertext names (null when malformed). */
export function keyIdOfCiphertext(blob: string): string | null {
  const parts = blob.split(".");
  return parts.length === 4 && parts[0] === VERSION && KEY_ID.test(parts[1]) ? parts[1] : null;
}

/** Decrypts and authenticates; throws DecryptionError (never with secret material) on any failure. */
export async function decryptSecret(blob: string, aad: string, keys?: EncryptionKeys): Promise<string> {
  const k = keys ?? (await encryptionKeys());
  const parts = blob.split(".");
  if (parts.length !== 4 || parts[0] !== VERSION) throw new DecryptionError("malformed ciphertext");
  const [, keyId, ivText, ctText] = parts;
  const key = k.keys.get(keyId);
  if (key === undefined) throw new DecryptionError(`encryption key "${keyId}" is not configured`);
  let iv: Uint8Array;
  let ct: Uint8Array;
  try {
    iv = fromBase64(ivText);
    ct = fromBase64(ctText);
  } catch {
    throw new DecryptionError("malformed ciphertext");
  }
  if (iv.length !== 12 || ct.length < 16) throw new DecryptionError("malformed ciphertext");
  try {
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: iv as BufferSource, additionalData: encoder.encode(aad), tagLength: 128 },
      key,
      ct as BufferSource,
    );
    return decoder.decode(pt);
  } catch {
    throw new DecryptionError("ciphertext failed authentication (altered, or not stored here)");
  }
}
