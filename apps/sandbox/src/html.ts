// Server-rendered pages: one small layout, escaped text only.
export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.4 system-ui,sans-serif;background:#f4f5f7;color:#1c1e21}
main{max-width:480px;margin:0 auto;padding:16px}h1{font-size:1.25rem}h2{font-size:1.05rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input,textarea{width:100%;padding:.6rem;font:inherit;border:1px solid #bbb;border-radius:8px}
button,.button{display:inline-block;padding:.6rem 1rem;font:inherit;border:0;border-radius:8px;background:#0a66c2;color:#fff;text-decoration:none;cursor:pointer}
button.secondary,.button.secondary{background:#e4e6eb;color:#1c1e21}.error{background:#fde8e8;color:#8a1c1c;padding:.75rem;border-radius:8px}
.note{color:#555;font-size:.9rem}.card{background:#fff;border-radius:12px;padding:12px;margin:12px 0;box-shadow:0 1px 2px #0002}
code{word-break:break-all}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${CSS}</style></head><body><main>${body}</main></body></html>`;
}
