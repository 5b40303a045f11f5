import type { FastifyReply } from "fastify";

/**
 * Server-rendered pages: a tagged template that escapes every interpolated value unless it is
 * already `SafeHtml`. Pages are phone-sized and work without JavaScript.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(value);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/**
 * No script runs on the broker's pages; styles are inline. Forms post to the broker only, and a
 * form's redirect may only go where `formActions` allows (the linking pages add the Messenger
 * redirect allowlist's origins, where the consent form's answer lands).
 */
export function pageCsp(options: { formActions?: readonly string[]; images?: readonly string[] } = {}): string {
  const images = ["'self'", "data:", ...(options.images ?? [])].join(" ");
  const forms = ["'self'", ...(options.formActions ?? [])].join(" ");
  return `default-src 'none'; style-src 'unsafe-inline'; img-src ${images}; form-action ${forms}; frame-ancestors 'none'; base-uri 'none'`;
}

/** The CSP of a page with no form leaving the broker (error pages). */
export const PAGE_CSP = pageCsp();

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1c1e21;background:#f0f2f5}
main{max-width:480px;margin:0 auto;padding:20px 16px;background:#fff;min-height:100vh}
h1{font-size:1.35rem;margin:0 0 12px}p{margin:0 0 12px}.muted{color:#65676b;font-size:.9rem}
.error{border-left:4px solid #d93025;padding:8px 12px;background:#fdecea}
.notice{border-left:4px solid #1877f2;padding:8px 12px;background:#e7f3ff}
ul{padding-left:20px}li{margin-bottom:6px}
label{display:block;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;font-size:1.2rem;padding:10px;border:1px solid #ccd0d5;border-radius:6px}
button{width:100%;font-size:1rem;padding:12px;border:0;border-radius:6px;margin-top:12px;background:#1877f2;color:#fff;font-weight:600}
button.secondary{background:#e4e6eb;color:#1c1e21}
code{word-break:break-all;background:#f0f2f5;padding:2px 4px;border-radius:4px;font-size:.85rem}
img.qr{display:block;max-width:100%;height:auto;margin:8px auto}
.who{display:flex;align-items:center;gap:10px}img.avatar{border-radius:50%}
`;

export function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · link-broker</title><style>${new SafeHtml(STYLE)}</style></head>
<body><main>${body}</main></body></html>`.value;
}

/** An error page: what happened, what to do next, the way back to Messenger when known, a reference. */
export function errorPage(input: { title: string; message: string; nextStep: string; requestId?: string; returnUrl?: string }): string {
  const { title, message, nextStep, requestId, returnUrl } = input;
  return page(
    title,
    html`<h1>${title}</h1><p class="error">${message}</p><p>${nextStep}</p>${returnUrl ? html`<p><a href="${returnUrl}">Return to Messenger</a></p>` : ""}${
      requestId ? html`<p class="muted">Reference: ${requestId}</p>` : ""
    }`,
  );
}

/** Sends a rendered page: HTML, the strict page CSP, never cached. The one page sender. */
export function sendPage(reply: FastifyReply, body: string, status = 200, csp = PAGE_CSP): FastifyReply {
  return reply.status(status).header("content-type", "text/html; charset=utf-8").header("content-security-policy", csp).header("cache-control", "no-store").send(body);
}
