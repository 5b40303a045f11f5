import { escapeHtml, page } from "../html.ts";
import type { ChatButton, ChatMessage } from "./conversations.ts";

export interface ChatView {
  messages: ChatMessage[];
  linked: boolean;
  brokerUp: boolean;
  error?: string;
  codes: { label: string; code: string; secondsLeft: number }[];
  authenticatorError?: string;
}

const CHAT_CSS = `<style>.msgs{display:flex;flex-direction:column;gap:6px}.msg{max-width:85%;padding:8px 12px;border-radius:16px;background:#e4e6eb;white-space:pre-wrap;overflow-wrap:anywhere}
.msg.user{align-self:flex-end;background:#0a66c2;color:#fff}.msg.system{align-self:center;background:none;color:#666;font-size:.85rem}
.row{display:flex;gap:8px;flex-wrap:wrap;margin-top:8px}.row form{margin:0}.code{font:600 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.15em}
.panel{border:2px dashed #c77d00;background:#fff8e6}.msg .button{margin-top:6px}</style>`;

// An account_link button opens Messenger's Log In (made when tapped: see chat-routes.ts).
const buttonHtml = (b: ChatButton) =>
  b.type === "account_link"
    ? `<a class="button" href="/messenger/account_link">${escapeHtml(b.title)}</a>`
    : `<a class="button secondary" href="${escapeHtml(b.url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(b.title)}</a>`;

/** The conversation, escaped; also what the page's poll puts in place when a message arrives. */
export function renderMessages(messages: ChatMessage[]): string {
  if (!messages.length) return `<div class="msg bot">Hi! I am the Sandbox Bank bot. Tap Log In to link your bank account, then ask me “what is my balance?”.</div>`;
  return messages.map((m) => `<div class="msg ${m.from}">${escapeHtml(m.text)}${m.buttons?.length ? `<div>${m.buttons.map(buttonHtml).join(" ")}</div>` : ""}</div>`).join("");
}

export function renderChatPage(view: ChatView): string {
  const msgs = renderMessages(view.messages);
  const banner = !view.brokerUp
    ? `<p class="error" role="alert" data-testid="broker-down">The bank is not reachable right now (broker down) — try again in a moment.</p>`
    : "";
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : "";
  const codes = view.codes.length
    ? view.codes
        .map((c) => `<div><div>${escapeHtml(c.label)}</div><div class="code" data-testid="totp-code" data-label="${escapeHtml(c.label)}">${escapeHtml(c.code)}</div><div class="note">changes in ${c.secondsLeft} s</div></div>`)
        .join("")
    : `<p class="note">No account yet. When the broker shows you a secret or an <code>otpauth://</code> link during Log In, paste it here.</p>`;
  return page(
    "Messenger (sandbox) — Sandbox Bank",
    `${CHAT_CSS}<h1>Sandbox Bank <span class="note">· Messenger simulator</span></h1>${banner}${error}
<section class="card" aria-label="Conversation"><div class="msgs" id="messages" data-count="${view.messages.length}" aria-live="polite">${msgs}</div>
<noscript><p class="note">Messages the bank sends you appear when you reload this page.</p></noscript>
<div class="row">
${view.linked ? "" : `<a class="button" id="login" href="/messenger/account_link">Log In</a>`}
${view.linked ? `<form method="post" action="/messenger/unlink"><button type="submit" id="logout" class="secondary">Log Out</button></form>` : ""}
${view.linked ? `<a class="button secondary" id="relink" href="/messenger/account_link">Change permissions</a>` : ""}
<form method="post" action="/messenger/send"><input type="hidden" name="text" value="What is my balance?"><button type="submit" class="secondary">What is my balance?</button></form>
<form method="post" action="/messenger/send"><input type="hidden" name="text" value="Any fraud alerts?"><button type="submit" class="secondary">Any fraud alerts?</button></form>
</div>
<form method="post" action="/messenger/send" class="row"><label for="text" style="flex-basis:100%">Message</label>
<input id="text" name="text" required maxlength="500" style="flex:1" autocomplete="off"><button type="submit">Send</button></form></section>
<p class="note">Sandbox: the <a href="/bank">bank side</a> simulates card payments and credits that the bank pushes here.</p>
<section class="card panel" aria-label="Sandbox-only demo authenticator">
<h2>Sandbox-only demo authenticator (stands in for a phone app)</h2>
<p class="note">Not part of Messenger or the bank. It does what an authenticator app on your phone would do.</p>
<div id="codes">${codes}</div>
${view.authenticatorError ? `<p class="error" role="alert">${escapeHtml(view.authenticatorError)}</p>` : ""}
<form method="post" action="/authenticator"><label for="secret">Secret or otpauth:// URI from the enrolment page</label>
<input id="secret" name="secret" required autocomplete="off"><p><button type="submit">Add to authenticator</button></p></form>
</section>
<script>
// Messages the bank pushes (Send API) appear without a reload: the page asks every 2 s.
setInterval(async () => {
  try {
    const res = await fetch("/messenger/messages", { signal: AbortSignal.timeout(3000), cache: "no-store" });
    const m = await res.json();
    const box = document.getElementById("messages");
    if (box && String(m.count) !== box.dataset.count) { box.innerHTML = m.html; box.dataset.count = String(m.count); }
  } catch {}
}, 2000);
// Keeps the codes current; a failed refresh says so instead of showing an old code.
setInterval(async () => {
  try {
    const res = await fetch("/authenticator/codes", { signal: AbortSignal.timeout(3000) });
    const codes = await res.json();
    for (const c of codes) {
      const el = [...document.querySelectorAll("[data-testid=totp-code]")].find((e) => e.dataset.label === c.label);
      if (el) { el.textContent = c.code; el.nextElementSibling.textContent = "changes in " + c.secondsLeft + " s"; }
    }
  } catch { const el = document.getElementById("codes"); if (el) el.dataset.stale = "1"; }
}, 5000);
</script>`,
  );
}
