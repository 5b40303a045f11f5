import { createHash, createHmac } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import type { Clock } from "../../clock.ts";
import { constantEquals } from "../../crypto/constant-equals.ts";
import { InvalidDpopProof, OAuthError } from "../../errors.ts";
import { hasControlCharacter } from "../../web/control-characters.ts";
import type { ReplayRepo } from "../shared/replay-repo.ts";

export const DPOP_ALGS = ["ES256", "PS256", "RS256", "EdDSA"];
/** How far a proof's iat may be from now, in seconds (also how long its jti is remembered). */
export const DPOP_IAT_WINDOW = 60;
const NONCE_PERIOD = 300;

export interface DpopCheck {
  proof: string | string[] | undefined;
  htm: string;
  htu: string;
  /** Required at the resource server: the proof's ath must hash this token. */
  accessToken?: string;
  /** Ask for a server nonce (token endpoint). */
  requireNonce?: boolean;
}

/** `use_dpop_nonce` (RFC 9449 §8): the caller retries with the nonce in the DPoP-Nonce header. */
export function UseDpopNonce(nonce: string): OAuthError {
  const e = new OAuthError("use_dpop_nonce", "Authorization server requires nonce in DPoP proof");
  e.headers["dpop-nonce"] = nonce;
  return e;
}

/** The htu of a request: scheme, host and path, without query and fragment (RFC 9449 §4.3). */
export const normalizeHtu = (url: string) => {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
};

/**
 * DPoP proof verification (RFC 9449 §4.3). Nonces are stateless: an HMAC of the current
 * five-minute period under a key derived from the master key, so every broker process issues and
 * accepts the same ones; a nonce stays valid for the current and the previous period.
 */
export function createDpopVerifier(deps: { replay: ReplayRepo; clock: Clock; secret: Buffer }) {
  const { replay, clock } = deps;
  const nonceKey = createHash("sha256").update("dpop-nonce\0").update(deps.secret).digest();
  const nonceFor = (period: number) => `${period.toString(36)}.${createHmac("sha256", nonceKey).update(String(period)).digest("base64url").slice(0, 27)}`;
  const period = () => Math.floor(clock.now().getTime() / 1000 / NONCE_PERIOD);

  function nonceIsValid(nonce: unknown): boolean {
    if (typeof nonce !== "string" || nonce.length > 100) return false;
    const p = period();
    return constantEquals(nonce, nonceFor(p)) || constantEquals(nonce, nonceFor(p - 1));
  }

  return {
    nonce: () => nonceFor(period()),
    /** Verifies the proof and returns the thumbprint of its key (the token's cnf.jkt). */
    async verify(check: DpopCheck): Promise<{ jkt: string }> {
      const { proof } = check;
      if (Array.isArray(proof)) throw InvalidDpopProof("exactly one DPoP header is allowed");
      if (!proof || proof.length > 4096) throw InvalidDpopProof("DPoP proof is missing or too large");
      let header: ProtectedHeaderParameters;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        throw InvalidDpopProof("DPoP proof is not a JWS");
      }
      if (header.typ !== "dpop+jwt") throw InvalidDpopProof("DPoP proof typ must be dpop+jwt");
      if (typeof header.alg !== "string" || !DPOP_ALGS.includes(header.alg)) throw InvalidDpopProof("unsupported DPoP proof alg");
      const jwk = header.jwk as JWK | undefined;
      if (!jwk || typeof jwk !== "object" || "d" in jwk || "p" in jwk || "k" in jwk) throw InvalidDpopProof("DPoP proof must carry a public jwk");
      const now = clock.now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: DPOP_ALGS, currentDate: now }));
      } catch {
        throw InvalidDpopProof("DPoP proof signature is not valid");
      }
      const nowSec = Math.floor(now.getTime() / 1000);
      if (typeof payload.iat !== "number" || Math.abs(nowSec - payload.iat) > DPOP_IAT_WINDOW) throw InvalidDpopProof("DPoP proof iat is outside the accepted window");
      if (payload.htm !== check.htm) throw InvalidDpopProof("DPoP proof htm does not match the request method");
      let htu: string;
      try {
        htu = normalizeHtu(String(payload.htu));
      } catch {
        throw InvalidDpopProof("DPoP proof htu is not a URL");
      }
      if (htu !== normalizeHtu(check.htu)) throw InvalidDpopProof("DPoP proof htu does not match the request URL");
      if (typeof payload.jti !== "string" || payload.jti.length < 8 || payload.jti.length > 200 || hasControlCharacter(payload.jti)) throw InvalidDpopProof("DPoP proof jti is missing");
      if (check.accessToken !== undefined) {
        const ath = createHash("sha256").update(check.accessToken).digest("base64url");
        if (payload.ath !== ath) throw InvalidDpopProof("DPoP proof ath does not match the access token");
      }
      if (payload.nonce !== undefined || check.requireNonce) {
        if (!nonceIsValid(payload.nonce)) throw UseDpopNonce(nonceFor(period()));
      }
      const jkt = await calculateJwkThumbprint(jwk, "sha256");
      const expiresAt = new Date((payload.iat + DPOP_IAT_WINDOW + 5) * 1000);
      if (!(await replay.consumeOnce(`dpop:${jkt}:${payload.jti}`, expiresAt, now))) throw InvalidDpopProof("DPoP proof jti was already used");
      return { jkt };
    },
  };
}
export type DpopVerifier = ReturnType<typeof createDpopVerifier>;
