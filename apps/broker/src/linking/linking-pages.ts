import { PURPOSE_DESCRIPTIONS, SCOPE_DESCRIPTIONS, type ScopePurpose } from "@link-broker/consent-ledger";
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
  enrolment?: { qrDataUrl: string; otpauthUri: string; recoveryCodes: string[] };
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
<h2>Your recovery codes</h2>
<p>If you lose your phone, each of these codes lets you in once instead of a security code. Write them down or save them somewhere safe now: they are shown only this once.</p>
<ul class="codes">${enrolment.recoveryCodes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
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
</form>${
      enrolment
        ? ""
        : html`<details><summary>Lost your phone? Use a recovery code</summary>
<form method="post" action="/link/2fa">
<input type="hidden" name="csrf" value="${csrf}">
<label for="recovery">Recovery code</label>
<input type="text" id="recovery" name="recovery_code" autocomplete="off" autocapitalize="characters" maxlength="24" required>
<button type="submit" class="secondary">Use recovery code</button>
</form></details>`
    }${returnLink(input.returnUrl)}`,
  );
}

/** Which Messenger account is being linked, or a warning that it could not be confirmed. */
function messengerAccountBlock(account: { name?: string; picture?: URL } | undefined): SafeHtml {
  const warning = html`<p class="error" role="alert"><strong>Only continue if you tapped the link in your own Messenger chat.</strong> If someone sent you this link, choose "Don't link": they would get access to your account.</p>`;
  if (!account) {
    return html`<p class="notice">We could not confirm which Messenger account this link is for.</p>${warning}`;
  }
  return html`<div class="account"><p>Messenger account being linked:</p>
<p class="who">${account.picture ? html`<img class="avatar" src="${account.picture.href}" alt="" width="48" height="48">` : ""}<strong>${account.name ?? "(name not shared)"}</strong></p></div>
${warning}`;
}

/** One scope in the customer's words, said once, with every purpose it is granted for. */
function permission(group: readonly ScopePurpose[]) {
  const scope = group[0]!.scope;
  const purposes = group.map((p) => PURPOSE_DESCRIPTIONS[p.purpose as keyof typeof PURPOSE_DESCRIPTIONS] ?? p.purpose).join("; ");
  return html`${SCOPE_DESCRIPTIONS[scope as keyof typeof SCOPE_DESCRIPTIONS] ?? scope} <span class="muted">(${group.length > 1 ? "purposes" : "purpose"}: ${purposes})</span>`;
}

/** A scope's pairs as one line (a scope may serve several purposes). */
function byScope(pairs: readonly ScopePurpose[]): ScopePurpose[][] {
  const out = new Map<string, ScopePurpose[]>();
  for (const p of pairs) out.set(p.scope, [...(out.get(p.scope) ?? []), p]);
  return [...out.values()];
}

export function consentPage(input: {
  bankName: string;
  /** Granted with the link: shown fixed. */
  required: ScopePurpose[];
  /** Offered: one checkbox per scope, unticked; the form posts `scope` for each ticked one. */
  optional: ScopePurpose[];
  durationDays: number;
  expiresOn: string;
  csrf: string;
  messengerAccount?: { name?: string; picture?: URL };
}): string {
  const { bankName, required, optional, durationDays, expiresOn, csrf } = input;
  return page(
    "Link your account",
    html`<h1>Link your ${bankName} account to Messenger?</h1>
${messengerAccountBlock(input.messengerAccount)}
<form method="post" action="/link/consent">
<input type="hidden" name="csrf" value="${csrf}">
${required.length > 0 ? html`<p>${bankName}'s Messenger chat will be able to:</p>
<ul class="required">${byScope(required).map((g) => html`<li>${permission(g)}</li>`)}</ul>` : ""}
${
  optional.length > 0
    ? html`<fieldset class="optional"><legend>If you want, also allow it to:</legend>
${byScope(optional).map((g) => html`<p><label><input type="checkbox" name="scope" value="${g[0]!.scope}"> ${permission(g)}</label></p>`)}
</fieldset>`
    : ""
}
<p>For ${durationDays} ${durationDays === 1 ? "day" : "days"} (until ${expiresOn}), unless you unlink sooner. You can unlink at any time from the chat or from ${bankName}.</p>
<p class="notice">Your linked data is never used for advertising.</p>
<button type="submit" name="decision" value="approve">Allow and link</button>
<button type="submit" name="decision" value="deny" class="secondary">Don't link</button>
</form>`,
  );
}
