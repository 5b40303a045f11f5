// Overview charts drawn on the server as SVG: no script, no library, readable at phone width
// (the viewBox scales). Colours are presentation attributes, so the strict CSP needs no inline style.
import { html, type SafeHtml } from "../web/html.ts";
import type { Overview } from "./console-service.ts";

export const SERIES = [
  { key: "granted", label: "Granted", colour: "#1a7f37" },
  { key: "withdrawn", label: "Withdrawn", colour: "#cf222e" },
  { key: "expired", label: "Expired", colour: "#9a6700" },
] as const;
type Counts = { granted: number; withdrawn: number; expired: number };

const sum = (rows: Counts[], key: keyof Counts) => rows.reduce((n, r) => n + r[key], 0);

function legend(y: number): SafeHtml {
  return html`${SERIES.map((s, i) => html`<rect x="${10 + i * 110}" y="${y}" width="12" height="12" fill="${s.colour}"/><text x="${26 + i * 110}" y="${y + 11}" font-size="12">${s.label}</text>`)}`;
}

/** Grants, withdrawals and expiries per day: one group of three bars per day. */
export function dailyChart(o: Overview): SafeHtml {
  const W = 720;
  const H = 240;
  const top = 34;
  const bottom = H - 28;
  const left = 36;
  const max = Math.max(1, ...o.daily.flatMap((d) => [d.granted, d.withdrawn, d.expired]));
  const slot = (W - left - 8) / o.daily.length;
  const bar = Math.max(1, (slot - 2) / 3);
  const y = (v: number) => bottom - ((bottom - top) * v) / max;
  const totals = SERIES.map((s) => `${sum(o.daily, s.key)} ${s.label.toLowerCase()}`).join(", ");
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Per day, last ${o.daily.length} days: ${totals}" data-chart="daily"
 data-granted="${sum(o.daily, "granted")}" data-withdrawn="${sum(o.daily, "withdrawn")}" data-expired="${sum(o.daily, "expired")}" xmlns="http://www.w3.org/2000/svg">
<title>Grants, withdrawals and expiries per day</title>${legend(6)}
<line x1="${left}" y1="${bottom}" x2="${W - 4}" y2="${bottom}" stroke="#8c959f"/>
<text x="${left - 4}" y="${top + 4}" font-size="11" text-anchor="end">${max}</text><text x="${left - 4}" y="${bottom}" font-size="11" text-anchor="end">0</text>
${o.daily.map((d, i) =>
  SERIES.map((s, j) => {
    const v = d[s.key];
    return v ? html`<rect x="${(left + i * slot + j * bar + 1).toFixed(1)}" y="${y(v).toFixed(1)}" width="${bar.toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${s.colour}"><title>${d.day}: ${v} ${s.label.toLowerCase()}</title></rect>` : "";
  }),
)}
${o.daily.map((d, i) => (i % 7 === 0 || i === o.daily.length - 1 ? html`<text x="${(left + i * slot).toFixed(1)}" y="${H - 10}" font-size="11">${d.day.slice(5)}</text>` : ""))}
</svg>`;
}

/** Totals per bank over the same period: one row of three horizontal bars per bank. */
export function bankChart(o: Overview): SafeHtml {
  const W = 720;
  const rowH = 54;
  const left = 170;
  const H = 30 + Math.max(1, o.byBank.length) * rowH;
  const max = Math.max(1, ...o.byBank.flatMap((b) => [b.granted, b.withdrawn, b.expired]));
  const x = (v: number) => ((W - left - 60) * v) / max;
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Per bank: ${o.byBank.map((b) => `${b.name} ${b.granted} granted, ${b.withdrawn} withdrawn, ${b.expired} expired`).join("; ") || "no entries"}" data-chart="banks" xmlns="http://www.w3.org/2000/svg">
<title>Grants, withdrawals and expiries per bank</title>${legend(6)}
${o.byBank.length === 0 ? html`<text x="10" y="50" font-size="13">No ledger entries in this period.</text>` : ""}
${o.byBank.map((b, i) => {
  const y0 = 30 + i * rowH;
  return html`<g data-bank="${b.clientId}" data-granted="${b.granted}" data-withdrawn="${b.withdrawn}" data-expired="${b.expired}"><text x="10" y="${y0 + 28}" font-size="13">${b.name.length > 22 ? `${b.name.slice(0, 21)}…` : b.name}</text>
${SERIES.map((s, j) => html`<rect x="${left}" y="${y0 + 6 + j * 15}" width="${Math.max(b[s.key] ? 2 : 0, x(b[s.key])).toFixed(1)}" height="12" fill="${s.colour}"><title>${b.name}: ${b[s.key]} ${s.label.toLowerCase()}</title></rect><text x="${(left + x(b[s.key]) + 6).toFixed(1)}" y="${y0 + 16 + j * 15}" font-size="11">${b[s.key]}</text>`)}</g>`;
})}
</svg>`;
}

/** How link attempts ended: one 100 % bar, the share of each outcome. */
export function attemptsChart(o: Overview): SafeHtml {
  const a = o.attempts;
  const parts = [
    { key: "completed", label: "Linked", colour: "#1a7f37", n: a.completed },
    { key: "declined", label: "Declined", colour: "#8250df", n: a.declined },
    { key: "failed", label: "Failed", colour: "#cf222e", n: a.failed },
    { key: "expired", label: "Expired", colour: "#9a6700", n: a.expired },
    { key: "in_progress", label: "In progress", colour: "#8c959f", n: a.inProgress },
  ];
  const W = 720;
  const total = Math.max(1, a.total);
  const pct = (n: number) => `${Math.round((100 * n) / total)}%`;
  let x = 10;
  return html`<svg class="chart" viewBox="0 0 ${W} 110" role="img" aria-label="Link attempts: ${a.total} started; ${parts.map((p) => `${p.label.toLowerCase()} ${p.n} (${pct(p.n)})`).join(", ")}" data-chart="attempts" data-total="${a.total}" xmlns="http://www.w3.org/2000/svg">
<title>How link attempts ended</title>
${parts.map((p) => {
  const w = ((W - 20) * p.n) / total;
  const r = html`<rect x="${x.toFixed(1)}" y="10" width="${w.toFixed(1)}" height="34" fill="${p.colour}"><title>${p.label}: ${p.n} (${pct(p.n)})</title></rect>`;
  x += w;
  return r;
})}
${parts.map((p, i) => html`<rect x="${10 + i * 140}" y="62" width="12" height="12" fill="${p.colour}"/><text x="${26 + i * 140}" y="73" font-size="12">${p.label} ${p.n} (${pct(p.n)})</text>`)}
${a.total === 0 ? html`<text x="14" y="32" font-size="13">No link attempts in this period.</text>` : ""}
</svg>`;
}
