import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * AES-256-GCM sealing for secrets at rest (TOTP secrets, page tokens, app secrets, bank IdP
 * secrets, signing keys). Envelope: `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts).
 * The key id lets a keyring open values sealed under an older master key during rotation.
 * `context` is bound as additional authenticated data, so a sealed value copied into another
 * row or column does not open there.
 */
export interface MasterKey {
  readonly kid: string;
  readonly key: Buffer;
}

export interface Sealer {
  /** The current key's id: new values are sealed under it. */
  readonly kid: string;
  /** Every key id this sealer opens (current first, then previous keys). */
  readonly kids: readonly string[];
  seal(plaintext: string, context: string): string;
  unseal(envelope: string, context: string): string;
}

export class UnsealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsealError";
  }
}

/** A short, stable key id: the first 16 hex digits of SHA-256 over the key. */
export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

export function createSealer(current: MasterKey, previous: readonly MasterKey[] = []): Sealer {
  if (current.key.length !== 32) throw new Error("master key must be 32 bytes");
  const ring = new Map([current, ...previous].map((k) => [k.kid, k.key]));
  return {
    kid: current.kid,
    kids: [...ring.keys()],
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current.key, iv);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return ["v1", current.kid, iv.toString("base64url"), ct.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
    },
    unseal(envelope, context) {
      const parts = envelope.split(".");
      if (parts.length !== 5 || parts[0] !== "v1") throw new UnsealError("not a sealed value");
      const [, kid, iv, ct, tag] = parts as [string, string, string, string, string];
      const key = ring.get(kid);
      if (!key) throw new UnsealError(`sealed under unknown key ${kid}`);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
        decipher.setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
      } catch {
        throw new UnsealError("sealed value failed authentication");
      }
    },
  };
}
