// Messenger's account_linking_token: random, mapped to the PSID of the chat's user, valid 5 minutes.
import { randomBytes } from "node:crypto";

export const LINKING_TOKEN_TTL_MS = 5 * 60 * 1000;

export function createLinkingTokens(now: () => number = Date.now) {
  const tokens = new Map<string, { psid: string; expiresAt: number }>();
  return {
    mint(psid: string): string {
      const token = randomBytes(24).toString("base64url");
      tokens.set(token, { psid, expiresAt: now() + LINKING_TOKEN_TTL_MS });
      return token;
    },
    /** The PSID, or undefined for an unknown or expired token. */
    lookup(token: string): string | undefined {
      const entry = tokens.get(token);
      if (!entry) return undefined;
      if (now() >= entry.expiresAt) {
        tokens.delete(token);
        return undefined;
      }
      return entry.psid;
    },
  };
}

export type LinkingTokens = ReturnType<typeof createLinkingTokens>;
