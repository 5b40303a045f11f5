// The console's pages: server-rendered, every value escaped by `html`, no script at all.
import type { EntryRecord, VerifyResult } from "@link-broker/consent-ledger";
import type { StaffAuditEvent } from "@link-broker/db";
import { html, SafeHtml } from "../web/html.ts";
import { attemptsChart, bankChart, dailyChart } from "./console-charts.ts";
import type { ConsentEventRow, ConsentRow, Overview } from "./console-service.ts";
import type { Staff } from "./staff-repo.ts";

export interface Chrome {
  staff: Pick<Staff, "email" | "role">;
  csrf: (form: string) => string;
  current: string;
}

const NAV = [
  ["/console", "Overview"],
  ["/console/consents", "Consents"],
  ["/console/customers", "Customers"],
  ["/console/integrity", "Integrity"],
  ["/console/banks", "Banks"],
  ["/console/audit", "Audit log"],
] as const;

function document(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · link-broker console</title><link rel="stylesheet" href="/console/console.css"></head>
<body>${body}</body></html>`.value;
}

export function layout(chrome: Chrome, title: string, body: SafeHtml): string {
  return document(
    title,
    html`<header><strong>link-broker</strong><nav>${NAV.map(([href, label]) => html` <a href="${href}"${chrome.current === href ? new SafeHtml(' aria-current="page"') : ""}>${label}</a>`)}</nav>
<span class="who"><span data-testid="whoami">${chrome.staff.email} (${chrome.staff.role})</span><form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${chrome.csrf("logout")}"><button type="submit">Sign out</button></form></span></header>
<main>${body}</main>`,
  );
}

export function plainPage(title: string, body: SafeHtml): string {
  return document(title, html`<main class="narrow">${body}</main>`);
}

export function errorPage(title: string, message: string, requestId: string, signedIn: boolean): string {
  return plainPage(title, html`<h1>${title}</h1><p class="error">${message}</p><p><a href="${signedIn ? "/console" : "/console/login"}">${signedIn ? "Back to the console" : "Sign in"}</a></p><p class="muted">Reference: ${requestId}</p>`);
}

export function loginPage(csrf: string, message?: { kind: "error" | "notice"; text: string }, email = ""): string {
  return plainPage(
    "Sign in",
    html`<h1>Compliance console</h1>${message ? html`<p class="${message.kind}" role="alert">${message.text}</p>` : ""}
<form method="post" action="/console/login"><input type="hidden" name="csrf" value="${csrf}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" value="${email}" required maxlength="254">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="200">
<button type="submit">Continue</button></form>`,
  );
}

export function totpPage(options: { csrf: string; email: string; enrolment?: { otpauthUri: string; qrDataUrl: string }; error?: string }): string {
  const { enrolment } = options;
  return plainPage(
    "Second factor",
    html`<h1>${enrolment ? "Set up your authenticator" : "Enter your code"}</h1>
<p class="muted">Signed in as ${options.email}.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
${enrolment ? html`<p>Scan this code with an authenticator app, or type the key below, then enter the 6-digit code it shows. The code is required at every sign-in.</p><img class="qr" src="${enrolment.qrDataUrl}" alt="QR code for your authenticator app"><p><code data-testid="otpauth">${enrolment.otpauthUri}</code></p>` : html`<p>Enter the 6-digit code from your authenticator app.</p>`}
<form method="post" action="/console/login/totp"><input type="hidden" name="csrf" value="${options.csrf}">
<label for="code">Code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="10" required>
<button type="submit">Verify</button></form>`,
  );
}

export function passwordPage(options: { csrf: string; email: string; required: boolean; error?: string }): string {
  return plainPage(
    "Choose a password",
    html`<h1>Choose your password</h1><p class="muted">Signed in as ${options.email}.</p>
${options.required ? html`<p class="notice">The password you were given works for this first sign-in only. Choose your own before you go on.</p>` : ""}
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ""}
<form method="post" action="/console/password"><input type="hidden" name="csrf" value="${options.csrf}">
<label for="current">Current password</label><input id="current" name="current" type="password" autocomplete="current-password" required maxlength="200">
<label for="password">New password (at least 12 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="200">
<label for="confirm">New password again</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="12" maxlength="200">
<button type="submit">Save password</button></form>`,
  );
}

const status = (s: string) => html`<span class="status status-${s}">${s}</span>`;
const day = (iso: string | Date) => (typeof iso === "string" ? iso : iso.toISOString()).replace("T", " ").slice(0, 19);

export function overviewPage(chrome: Chrome, o: Overview, banks: { id: string; name: string }[]): string {
  return layout(
    chrome,
    "Overview",
    html`<h1>Overview</h1><p class="muted">The last ${o.days.length} days (UTC), counted from the ledger${o.bank ? html` for <strong>${banks.find((b) => b.id === o.bank)?.name ?? o.bank}</strong>` : ""}.</p>
<form class="filters" method="get" action="/console"><div><label for="bank">Bank</label><select id="bank" name="bank"><option value="">all banks</option>${banks.map((b) => html`<option value="${b.id}"${o.bank === b.id ? new SafeHtml(" selected") : ""}>${b.name}</option>`)}</select></div><div class="actions"><button type="submit">Show</button></div></form>
<h2>Per day</h2><div class="card">${dailyChart(o)}</div>
<h2>Per bank</h2><div class="card">${bankChart(o)}</div>
<h2>How link attempts ended</h2><div class="card">${attemptsChart(o)}</div>`,
  );
}

export interface SearchForm {
  bank?: string;
  customer?: string;
  psid?: string;
  status?: string;
  scope?: string;
  purpose?: string;
  from?: string;
  to?: string;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function searchPage(chrome: Chrome, form: SearchForm, options: { banks: { id: string; name: string }[]; scopes: readonly string[]; purposes: readonly string[] }, result: { items: ConsentRow[]; hasMore: boolean; page: number }): string {
  const select = (name: keyof SearchForm, label: string, values: readonly (string | { id: string; name: string })[]) =>
    html`<div><label for="${name}">${label}</label><select id="${name}" name="${name}"><option value="">any</option>${values.map((v) => {
      const [value, text] = typeof v === "string" ? [v, v] : [v.id, v.name];
      return html`<option value="${value}"${form[name] === value ? new SafeHtml(" selected") : ""}>${text}</option>`;
    })}</select></div>`;
  const input = (name: keyof SearchForm, label: string, type = "text") => html`<div><label for="${name}">${label}</label><input id="${name}" name="${name}" type="${type}" value="${form[name] ?? ""}" maxlength="512"></div>`;
  const base = { ...form };
  return layout(
    chrome,
    "Consents",
    html`<h1>Consents</h1>
<form class="filters" method="get" action="/console/consents">
${select("bank", "Bank", options.banks)}${input("customer", "Customer id")}${input("psid", "PSID")}
${select("status", "Status", ["active", "withdrawn", "expired"])}${select("scope", "Scope", options.scopes)}${select("purpose", "Purpose", options.purposes)}
${input("from", "Granted from", "date")}${input("to", "Granted to (inclusive)", "date")}
<div class="actions"><button type="submit">Search</button></div></form>
<p class="no-print"><a class="button" href="/console/consents/export${query({ ...base, format: "csv" })}" download>Export CSV</a><a class="button" href="/console/consents/export${query({ ...base, format: "jsonl" })}" download>Export JSONL</a>
<a class="button" href="/ledger/export${query({ format: "csv", from: form.from ? `${form.from}T00:00:00Z` : undefined, to: form.to ? `${form.to}T23:59:59.999Z` : undefined })}" download>Ledger entries for these dates (CSV)</a></p>
<div class="table-wrap"><table data-testid="results"><thead><tr><th>Consent</th><th>Bank</th><th>Customer</th><th>PSID</th><th>Status</th><th>Scopes</th><th>Purposes</th><th>Granted</th><th>Expires</th></tr></thead><tbody>
${result.items.length === 0 ? html`<tr><td colspan="9">No consents match.</td></tr>` : ""}
${result.items.map((c) => html`<tr><td><a href="/console/consents/${encodeURIComponent(c.id)}"><code>${c.id.slice(0, 8)}</code></a></td><td>${c.client_id}</td><td><a href="/console/customers${query({ subject: c.subject })}">${c.subject}</a></td><td>${c.psid ?? ""}</td><td>${status(c.status)}</td><td>${c.scopes.join(", ")}</td><td>${c.purposes.join(", ")}</td><td>${day(c.granted_at)}</td><td>${day(c.expires_at)}</td></tr>`)}
</tbody></table></div>
<div class="pager">${result.page > 1 ? html`<a class="button" href="/console/consents${query({ ...base, page: result.page - 1 })}">Previous</a>` : ""}<span class="muted">Page ${result.page}</span>${result.hasMore ? html`<a class="button" href="/console/consents${query({ ...base, page: result.page + 1 })}">Next</a>` : ""}</div>`,
  );
}

function timeline(entries: EntryRecord[]): SafeHtml {
  return html`<ol class="timeline">${entries.map(
    (e) => html`<li data-action="${e.action}"><strong>${e.action}</strong> by <strong>${e.actor}</strong> · ${day(e.recordedAt)} UTC · seq ${e.seq}
<div class="muted">scopes ${e.scopes.join(", ")} · purposes ${e.purposes.join(", ")} · expires ${day(e.expiresAt)}</div>
<div class="muted">evidence <code>${JSON.stringify(e.evidence)}</code></div><div class="muted">hash <code>${e.hash}</code></div></li>`,
  )}</ol>`;
}

/** The consent's events to its bank: pushed (delivered, pending, failed), polled, or waiting to be polled. */
function eventsTable(events: ConsentEventRow[]): SafeHtml {
  if (events.length === 0) return html`<p class="muted">No events yet.</p>`;
  const state = (e: ConsentEventRow) =>
    e.push === "delivered" ? html`delivered ${day(e.deliveredAt!)} UTC` : e.ackedAt ? html`polled ${day(e.ackedAt)} UTC` : e.push === "none" ? "waiting to be polled" : e.push;
  return html`<table><thead><tr><th>Event</th><th>seq</th><th>Made</th><th>Delivery</th><th>Last error</th></tr></thead><tbody>${events.map(
    (e) => html`<tr data-jti="${e.jti}"><td>${e.type}</td><td>${e.ledgerSeq.toString()}</td><td>${day(e.createdAt)} UTC</td><td data-testid="event-state">${state(e)}</td><td class="muted">${e.lastError ?? ""}</td></tr>`,
  )}</tbody></table>`;
}

export function consentPage(chrome: Chrome, c: { consent: { id: string; clientId: string; subject: string; psid: string | null; linkId: string | null; status: string; scopes: string[]; purposes: string[]; grantedAt: Date; expiresAt: Date }; entries: EntryRecord[]; receipt: string; events?: ConsentEventRow[] }, options: { admin: boolean; notice?: string }): string {
  const k = c.consent;
  return layout(
    chrome,
    "Consent",
    html`<h1>Consent <code>${k.id}</code></h1>${options.notice ? html`<p class="ok" role="status">${options.notice}</p>` : ""}
<div class="card"><dl><dt>Status</dt><dd data-testid="status">${status(k.status)}</dd><dt>Bank</dt><dd>${k.clientId}</dd><dt>Customer</dt><dd><a href="/console/customers?subject=${encodeURIComponent(k.subject)}">${k.subject}</a></dd>
<dt>PSID</dt><dd>${k.psid ?? "—"}</dd><dt>Link</dt><dd>${k.linkId ?? "—"}</dd><dt>Scopes</dt><dd>${k.scopes.join(", ")}</dd><dt>Purposes</dt><dd>${k.purposes.join(", ")}</dd>
<dt>Granted</dt><dd>${day(k.grantedAt)} UTC</dd><dt>Expires</dt><dd>${day(k.expiresAt)} UTC</dd></dl></div>
<h2>Timeline</h2><div class="card" data-testid="timeline">${timeline(c.entries)}</div>
<h2>Events to the bank</h2><div class="table-wrap" data-testid="events">${eventsTable(c.events ?? [])}</div>
<h2>Receipt</h2><div class="card"><p class="muted">A signed consent receipt (compact JWS, ES256); verify it with the keys at <a href="/ledger/keys.json">/ledger/keys.json</a> or <a href="/jwks.json">/jwks.json</a>.</p><p><code data-testid="receipt">${c.receipt}</code></p></div>
${
  options.admin && k.status === "active"
    ? html`<h2>Withdraw</h2><div class="card no-print"><p>Withdrawing ends the link as an unlink does: the bank's tokens are revoked, Messenger is told, and the ledger records the withdrawal by compliance with your staff id.</p>
<form method="post" action="/console/consents/${encodeURIComponent(k.id)}/withdraw"><input type="hidden" name="csrf" value="${chrome.csrf(`withdraw:${k.id}`)}">
<label for="reason">Reason (recorded in the ledger)</label><textarea id="reason" name="reason" required minlength="3" maxlength="500" rows="2"></textarea>
<button class="danger" type="submit">Withdraw consent</button></form></div>`
    : ""
}`,
  );
}

export function customerLookupPage(chrome: Chrome): string {
  return layout(
    chrome,
    "Customers",
    html`<h1>Subject access</h1><p>Everything the broker holds about one customer: every consent across banks, with its history.</p>
<form class="filters" method="get" action="/console/customers"><div><label for="subject">Customer id</label><input id="subject" name="subject" maxlength="512"></div>
<div><label for="psid">or PSID</label><input id="psid" name="psid" maxlength="200"></div><div class="actions"><button type="submit">Show</button></div></form>`,
  );
}

/** An admin's form to reset the customer's second factor at one bank (a lost phone, no recovery code left). */
function resetFactorForm(chrome: Chrome, clientId: string, subject: string): SafeHtml {
  return html`<form class="no-print" method="post" action="/console/customers/reset-second-factor" data-testid="reset-second-factor"><input type="hidden" name="csrf" value="${chrome.csrf(`reset-2fa:${clientId}:${subject}`)}"><input type="hidden" name="client_id" value="${clientId}"><input type="hidden" name="subject" value="${subject}"><input name="reason" placeholder="reason (e.g. ticket number)" required minlength="3" maxlength="500" aria-label="Reason"><button class="danger" type="submit">Reset second factor at ${clientId}</button></form>`;
}

export function customerPage(chrome: Chrome, who: { subject?: string; psid?: string }, report: { generated_at: string; consents: { consent: ConsentRow; entries: EntryRecord[] }[] }, options: { admin: boolean; notice?: string } = { admin: false }): string {
  const q = who.subject !== undefined ? `subject=${encodeURIComponent(who.subject)}` : `psid=${encodeURIComponent(who.psid ?? "")}`;
  // The second factor belongs to the customer at one bank: one form per bank they consented at.
  const banks = [...new Map(report.consents.map(({ consent: c }) => [`${c.client_id}\u0000${c.subject}`, { clientId: c.client_id, subject: c.subject }])).values()];
  return layout(
    chrome,
    "Subject access",
    html`<h1>Subject access: ${who.subject !== undefined ? html`customer <code>${who.subject}</code>` : html`PSID <code>${who.psid}</code>`}</h1>
<p class="muted">Generated ${day(report.generated_at)} UTC. The broker stores no bank data (balances, transactions): only links, tokens (hashed), second-factor secrets (sealed) and this consent history.</p>
${options.notice ? html`<p class="ok" role="status">${options.notice}</p>` : ""}
<p class="no-print"><a class="button" href="/console/customers/export?${q}" download>Download JSON</a> <span class="muted">Use the browser's print command for a printable copy.</span></p>
${options.admin && banks.length > 0 ? html`<div class="card no-print"><h2>Second factor</h2><p class="muted">For a customer who lost their authenticator and every recovery code: the next link enrols a new one after the bank sign-in. Their linked chats are told.</p>${banks.map((b) => resetFactorForm(chrome, b.clientId, b.subject))}</div>` : ""}
${report.consents.length === 0 ? html`<p class="notice">No consents for this customer.</p>` : ""}
${report.consents.map(({ consent: c, entries }) => html`<div class="card"><h2><a href="/console/consents/${encodeURIComponent(c.id)}">Consent <code>${c.id}</code></a> ${status(c.status)}</h2>
<dl><dt>Bank</dt><dd>${c.client_id}</dd><dt>PSID</dt><dd>${c.psid ?? "—"}</dd><dt>Scopes</dt><dd>${c.scopes.join(", ")}</dd><dt>Purposes</dt><dd>${c.purposes.join(", ")}</dd><dt>Granted</dt><dd>${day(c.granted_at)} UTC</dd><dt>Expires</dt><dd>${day(c.expires_at)} UTC</dd></dl>
<h2>History</h2>${timeline(entries)}</div>`)}`,
  );
}

export function integrityPage(chrome: Chrome, result?: VerifyResult): string {
  return layout(
    chrome,
    "Integrity",
    html`<h1>Ledger integrity</h1><p>Recomputes every entry's hash and link to the one before, and checks the chain against the latest signed checkpoint.</p>
<form method="get" action="/console/integrity/verify"><button type="submit">Verify now</button></form>
${
  result
    ? html`<div class="card" data-testid="verify-result"><p class="${result.ok ? "ok" : "error"}" role="status">${result.ok ? "The ledger verifies." : html`The ledger does NOT verify: the first bad entry is seq <strong data-testid="first-bad">${result.firstBadSeq}</strong>.`}</p>
<dl><dt>Entries checked</dt><dd data-testid="checked">${result.checked}</dd><dt>Head</dt><dd>seq ${result.headSeq ?? "—"}, hash <code>${result.headHash}</code></dd>
<dt>Signed checkpoints verified</dt><dd>${result.checkpointsVerified}</dd>
${result.firstBadSeq !== null ? html`<dt>First bad entry</dt><dd>seq ${result.firstBadSeq}</dd>` : ""}${result.problem ? html`<dt>Problem</dt><dd data-testid="problem">${result.problem}${result.consentId ? html` (consent <code>${result.consentId}</code>)` : ""}</dd>` : ""}</dl></div>`
    : ""
}`,
  );
}

export function banksPage(chrome: Chrome, banks: { id: string; name: string; scopes: string[]; createdAt: Date; disabledAt: Date | null; messenger: boolean; activeLinks: number }[], options: { admin: boolean; notice?: string }): string {
  return layout(
    chrome,
    "Banks",
    html`<h1>Banks</h1>${options.notice ? html`<p class="ok" role="status">${options.notice}</p>` : ""}
<div class="table-wrap"><table data-testid="banks"><thead><tr><th>Name</th><th>Client id</th><th>Scopes</th><th>Messenger</th><th>Active links</th><th>Registered</th><th>State</th>${options.admin ? html`<th>Action</th>` : ""}</tr></thead><tbody>
${banks.map((b) => html`<tr data-client="${b.id}"><td>${b.name}</td><td><code>${b.id}</code></td><td>${b.scopes.join(", ")}</td><td>${b.messenger ? "yes" : "no"}</td><td>${b.activeLinks}</td><td>${day(b.createdAt)}</td><td>${b.disabledAt ? html`disabled ${day(b.disabledAt)}` : "enabled"}</td>
${options.admin ? html`<td>${b.disabledAt ? "" : html`<form method="post" action="/console/banks/${encodeURIComponent(b.id)}/disable"><input type="hidden" name="csrf" value="${chrome.csrf(`disable:${b.id}`)}"><input name="reason" placeholder="reason" required minlength="3" maxlength="500" aria-label="Reason"><button class="danger" type="submit">Disable</button></form>`}</td>` : ""}</tr>`)}
</tbody></table></div><p class="muted">Disabling a bank revokes all its tokens at once and stops new links; its consents stay in the ledger.</p>`,
  );
}

export function auditPage(chrome: Chrome, rows: StaffAuditEvent[], pageSize: number): string {
  const last = rows[rows.length - 1];
  return layout(
    chrome,
    "Audit log",
    html`<h1>Staff audit log</h1><p class="muted">Append-only: the database refuses edits and deletes. Newest first.</p>
<div class="table-wrap"><table data-testid="audit"><thead><tr><th>#</th><th>When (UTC)</th><th>Who</th><th>Action</th><th>Target</th><th>Detail</th><th>Request</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${r.seq.toString()}</td><td>${day(r.at)}</td><td>${r.email ?? (r.detail && (r.detail as Record<string, unknown>).via === "cli" ? "CLI" : "—")}</td><td>${r.action}</td><td>${r.target ?? ""}</td><td><code>${JSON.stringify(r.detail)}</code></td><td><code>${r.requestId ?? ""}</code></td></tr>`)}
</tbody></table></div>
${rows.length === pageSize && last ? html`<div class="pager"><a class="button" href="/console/audit?before=${last.seq.toString()}">Older</a></div>` : ""}`,
  );
}
