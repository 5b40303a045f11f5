/**
 * The ledger over HTTP, for services that do not embed the package: same `check` signature,
 * calling the broker's `POST /ledger/check` with a `ledger:check` access token.
 *
 *   const ledger = createLedgerClient({ baseUrl, getAccessToken });
 *   const { allowed } = await ledger.check({ linkId }, { scope: "balance:read" });
 */
export type LedgerLookup = { linkId: string } | { clientId: string; subject: string } | { clientId: string; psid: string };
export type LedgerCheckReason = "active" | "no_consent" | "withdrawn" | "expired" | "scope_not_granted" | "purpose_forbidden";
export interface LedgerCheckResult {
  allowed: boolean;
  consentId: string | null;
  expiresAt: Date | null;
  reason: LedgerCheckReason;
}

export class LedgerClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "LedgerClientError";
  }
}

export interface LedgerClientOptions {
  baseUrl: string;
  getAccessToken: () => string | Promise<string>;
  fetch?: typeof fetch;
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
}

export function createLedgerClient(options: LedgerClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const url = new URL("ledger/check", options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`);
  return {
    async check(who: LedgerLookup, opts: { scope: string; purpose?: string }): Promise<LedgerCheckResult> {
      const body: Record<string, string> = { scope: opts.scope };
      if (opts.purpose !== undefined) body.purpose = opts.purpose;
      if ("linkId" in who) body.link_id = who.linkId;
      else {
        body.client_id = who.clientId;
        if ("subject" in who) body.subject = who.subject;
        else body.psid = who.psid;
      }
      const res = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await options.getAccessToken()}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) throw new LedgerClientError(res.status, String(json.error ?? "http_error"), String(json.message ?? `ledger check failed with ${res.status}`));
      return {
        allowed: json.allowed === true,
        consentId: (json.consent_id as string | null) ?? null,
        expiresAt: json.expires_at ? new Date(json.expires_at as string) : null,
        reason: json.reason as LedgerCheckReason,
      };
    },
  };
}
export type LedgerClient = ReturnType<typeof createLedgerClient>;
