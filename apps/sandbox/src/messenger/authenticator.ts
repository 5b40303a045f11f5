// Sandbox-only demo authenticator: stands in for the customer's phone app. It keeps the secrets
// the customer pasted (persisted) and shows their current TOTP codes (SHA-1, 6 digits, 30 s).
import { generateSync } from "otplib";
import { jsonFile } from "../json-store.ts";

export interface AuthenticatorEntry {
  label: string;
  secret: string;
  addedAt: string;
}

export class InvalidSecretError extends Error {}

/** Accepts a bare base32 secret (spaces allowed) or an `otpauth://totp/...` URI. */
export function parseSecretInput(input: string): { label: string; secret: string } {
  const text = input.trim();
  let label = "Sandbox Bank";
  let secret = text;
  if (/^otpauth:\/\//i.test(text)) {
    let uri: URL;
    try {
      uri = new URL(text);
    } catch {
      throw new InvalidSecretError("That otpauth:// URI could not be read.");
    }
    if (uri.host.toLowerCase() !== "totp") throw new InvalidSecretError("Only time-based (totp) codes are supported.");
    secret = uri.searchParams.get("secret") ?? "";
    const path = decodeURIComponent(uri.pathname.replace(/^\//, ""));
    if (path) label = path;
    else if (uri.searchParams.get("issuer")) label = uri.searchParams.get("issuer")!;
  }
  secret = secret.replace(/[\s-]/g, "").replace(/=+$/, "").toUpperCase();
  if (!/^[A-Z2-7]{16,}$/.test(secret)) throw new InvalidSecretError("That is not a base32 secret (letters A–Z and digits 2–7).");
  try {
    generateSync({ secret });
  } catch {
    throw new InvalidSecretError("That secret is too short for a TOTP code.");
  }
  return { label, secret };
}

export function currentCode(secret: string, nowMs: number): { code: string; secondsLeft: number } {
  const epoch = Math.floor(nowMs / 1000);
  return { code: generateSync({ secret, epoch }), secondsLeft: 30 - (epoch % 30) };
}

export function createAuthenticator(dataDir: string, now: () => number = Date.now) {
  const file = jsonFile<AuthenticatorEntry[]>(dataDir, "authenticator.json", () => []);
  return {
    add(input: string): AuthenticatorEntry {
      const { label, secret } = parseSecretInput(input);
      const entry = { label, secret, addedAt: new Date(now()).toISOString() };
      // One entry per account label: enrolling again replaces the old secret, like re-scanning a QR code.
      file.update((entries) => [entry, ...entries.filter((e) => e.label !== label)]);
      return entry;
    },
    remove(label: string) {
      file.update((entries) => entries.filter((e) => e.label !== label));
    },
    codes() {
      return file.read().map((e) => ({ label: e.label, ...currentCode(e.secret, now()) }));
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
