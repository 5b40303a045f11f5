import { CUSTOMERS } from "./customers.ts";
import { escapeHtml, page } from "../html.ts";

export function renderLoginPage(uid: string, error?: string): string {
  const demo = CUSTOMERS.map((c) => `<li>${escapeHtml(c.name)}: <code>${escapeHtml(c.username)}</code> / <code>${escapeHtml(c.password)}</code></li>`).join("");
  return page(
    "Sandbox Bank — sign in",
    `<h1>Sandbox Bank</h1><p>Sign in to link your account to the bank's Messenger chat.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" class="card">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit" class="secondary">Cancel</button></form>
<div class="card note"><strong>Demo customers</strong> (sandbox only)<ul>${demo}</ul></div>`,
  );
}
