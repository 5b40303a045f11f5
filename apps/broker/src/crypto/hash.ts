import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/** A new opaque secret: 32 random bytes (256 bits), base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** How tokens, codes and client secrets are stored: SHA-256, hex. */
export function hashToken(token: string): string {
  return hash("sha256", token, "hex");
}

/**
 * Whether `token` hashes to the stored hex SHA-256 `storedHash`, compared in constant time. Both
 * digests are 32 bytes, so the comparison needs no padding and reveals nothing through length.
 */
export function matchesHash(token: string, storedHash: string): boolean {
  const stored = Buffer.from(storedHash, "hex");
  const computed = hash("sha256", token, "buffer");
  return stored.length === computed.length && timingSafeEqual(computed, stored);
}
