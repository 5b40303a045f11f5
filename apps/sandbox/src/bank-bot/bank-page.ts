// The bank-side page: the bank's customers, their Messenger links, two simulated bank events, what
// came of each (sent, or the ledger's reason for refusing), and the consent events received.
import { escapeHtml, page } from "../html.ts";
import type { Customer } from "../bank-idp/customers.ts";
import { PUSHES, type PushOutcome } from "./bank-notifications.ts";
import type { ReceivedEvent } from "./consent-events.ts";

export interface BankView {
  customers: { customer: Customer; psids: string[] }[];
  outcomes: readonly PushOutcome[];
  events: readonly ReceivedEvent[];
}

const BANK_CSS = `<style>table{width:100%;border-collapse:collapse;font-size:.85rem}td,th{text-align:left;padding:4px;border-bottom:1px solid #ddd;overflow-wrap:anywhere}
.row{display:flex;gap:8px;flex-wrap:wrap}.row form{margin:0}.sent{color:#17672e;font-weight:600}.refused,.failed{color:#8a1c1c;font-weight:600}</style>`;

const outcomeText = (o: PushOutcome) => (o.outcome === "sent" ? `sent to ${o.sentTo.length} Messenger chat${o.sentTo.length === 1 ? "" : "s"}` : `${o.outcome}: ${o.reason} — nothing was sent`);

export function renderBankPage(view: BankView): string {
  const customers = view.customers
    .map(
      ({ customer, psids }) => `<section class="card" data-customer="${escapeHtml(customer.customerId)}"><h2>${escapeHtml(customer.name)} <span class="note">${escapeHtml(customer.customerId)}</span></h2>
<p class="note">${psids.length ? `Linked in Messenger: ${psids.map((p) => `<code>${escapeHtml(p)}</code>`).join(", ")}` : "No live Messenger link."}</p>
<div class="row">${Object.entries(PUSHES)
        .map(
          ([kind, p]) => `<form method="post" action="/bank/simulate"><input type="hidden" name="customer" value="${escapeHtml(customer.customerId)}"><input type="hidden" name="kind" value="${kind}">
<button type="submit" class="secondary" data-kind="${kind}">Simulate ${escapeHtml(p.label.toLowerCase())}</button></form>`,
        )
        .join("")}</div></section>`,
    )
    .join("");
  const outcomes = view.outcomes.length
    ? `<ul>${view.outcomes
        .map(
          (o) =>
            `<li data-testid="bank-outcome" data-outcome="${o.outcome}" data-reason="${escapeHtml(o.reason)}"><span class="${o.outcome}">${escapeHtml(outcomeText(o))}</span><br><span class="note">${escapeHtml(o.at)} · ${escapeHtml(PUSHES[o.kind].label)} · ${escapeHtml(o.customerId)} · ${escapeHtml(PUSHES[o.kind].scope)} for ${escapeHtml(PUSHES[o.kind].purpose)}</span></li>`,
        )
        .join("")}</ul>`
    : `<p class="note">Nothing simulated yet.</p>`;
  const events = view.events.length
    ? `<table><thead><tr><th>event</th><th>actor</th><th>PSID</th><th>received</th></tr></thead><tbody>${[...view.events]
        .reverse()
        .slice(0, 20)
        .map((e) => `<tr data-testid="consent-event" data-type="${escapeHtml(e.type)}"><td>${escapeHtml(e.type)}</td><td>${escapeHtml(e.actor ?? "")}</td><td>${escapeHtml(e.psid ?? "")}</td><td>${escapeHtml(e.received_at)}</td></tr>`)
        .join("")}</tbody></table>`
    : `<p class="note">None yet.</p>`;
  return page(
    "Sandbox Bank — bank side",
    `${BANK_CSS}<h1>Sandbox Bank <span class="note">· bank side (sandbox)</span></h1>
<p class="note">Plays the bank's systems. A simulated event is pushed to the customer's Messenger chat by the bank itself, only after the broker's consent ledger allows it; the broker never carries the message.</p>
${customers}<section class="card" aria-label="Outcomes"><h2>What happened</h2>${outcomes}</section>
<section class="card" aria-label="Consent events"><h2>Consent events received from the broker</h2>${events}</section>
<p><a href="/">Back to the chat</a></p>`,
  );
}
