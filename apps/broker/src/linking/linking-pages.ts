import { PURPOSE_DESCRIPTIONS, SCOPE_DESCRIPTIONS } from "@link-broker/consent-ledger";
import { html, page, type SafeHtml } from "../web/html.ts";

/** The linking flow's pages: phone-sized, no script, every value escaped, every field labelled. */

const returnLink = (returnUrl: string | undefined) =>
  returnUrl ? html`<p><a href="${returnUrl}">Return to Messenger</a></p>` : "";

/** The base32 secret of an otpauth URI, in groups of four for typing. */
function setupKey(otpauthUri: string): string {
  const secret = new URL(otpauthUri).searchParams.get("secret") ?? "";
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

export function secondFactorPage(input: {
  bankName: string;
  csrf: string;
  enrolment?: { qrDataUrl: string; otpauthUri: string };
  error?: string;
  returnUrl?: string;
}): string {
  const { bankName, csrf, enrolment, error } = input;
  const intro: SafeHtml = enrolment
    ? html`<h1>Set up your security code</h1>
<p>To protect your ${bankName} account, add it to an authenticator app (for example Google Authenticator or 1Password).</p>
<p>Scan this QR code with the app:</p>
<img class="qr" src="${enrolment.qrDataUrl}" alt="QR code for your authenticator app" width="240" height="240">
<p>Or enter this setup key by hand (time-based, 6 digits):</p>
<p><code>${setupKey(enrolment.otpauthUri)}</code></p>
<p class="muted">Setup link: <code>${enrolment.otpauthUri}</code></p>
<p>Then type the 6-digit code the app shows.</p>`
    : html`<h1>Enter your security code</h1><p>Open your authenticator app and type the 6-digit code it shows for ${bankName}.</p>`;
  return page(
    enrolment ? "Set up your security code" : "Security code",
    html`${intro}${error ? html`<p class="error" role="alert">${error}</p>` : ""}
<form method="post" action="/link/2fa">
<input type="hidden" name="csrf" value="${csrf}">
<label for="code">6-digit code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required>
<button type="submit">Continue</button>
</form>${returnLink(input.returnUrl)}`,
  );
}

export function consentPage(input: { bankName: string; scopes: string[]; purposes: string[]; durationDays: number; expiresOn: string; csrf: string }): string {
  const { bankName, scopes, purposes, durationDays, expiresOn, csrf } = input;
  return page(
    "Link your account",
    html`<h1>Link your ${bankName} account to Messenger?</h1>
<p>${bankName}'s Messenger chat will be able to:</p>
<ul>${scopes.map((s) => html`<li>${SCOPE_DESCRIPTIONS[s as keyof typeof SCOPE_DESCRIPTIONS] ?? s}</li>`)}</ul>
<p>Only for:</p>
<ul>${purposes.map((p) => html`<li>${PURPOSE_DESCRIPTIONS[p as keyof typeof PURPOSE_DESCRIPTIONS] ?? p}</li>`)}</ul>
<p>For ${durationDays} ${durationDays === 1 ? "day" : "days"} (until ${expiresOn}), unless you unlink sooner. You can unlink at any time from the chat or from ${bankName}.</p>
<p class="notice">Your linked data is never used for advertising.</p>
<form method="post" action="/link/consent">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" name="decision" value="approve">Allow and link</button>
<button type="submit" name="decision" value="deny" class="secondary">Don't link</button>
</form>`,
  );
}
