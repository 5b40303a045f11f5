// Messenger's Send API as the sandbox page accepts it: `POST /me/messages?access_token=PAGE_TOKEN`
// with `recipient.id`, and either `messaging_type: RESPONSE` (a reply) or `MESSAGE_TAG` with
// `tag: ACCOUNT_UPDATE`, the one tag that lets a bank message a customer who did not write first.
// The message is a text or a button template (`web_url` / `account_link` buttons).
import type { ChatButton } from "./conversations.ts";

export interface SendRequest {
  psid: string;
  text: string;
  buttons?: ChatButton[];
}

/** A Graph API error body: `{error: {message, type, code}}`. */
export class GraphError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
  body() {
    return { error: { message: this.message, type: "OAuthException", code: this.code, fbtrace_id: "sandbox" } };
  }
}

const param = (message: string) => new GraphError(`(#100) ${message}`, 100);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function parseButtons(raw: unknown): ChatButton[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > 3) throw param("buttons must hold 1 to 3 buttons");
  return raw.map((b) => {
    if (!isRecord(b) || (b.type !== "web_url" && b.type !== "account_link")) throw param("button type must be web_url or account_link");
    if (typeof b.url !== "string" || !/^https?:\/\//.test(b.url)) throw param("button url must be an http(s) URL");
    const title = b.type === "account_link" ? "Log In" : b.title;
    if (typeof title !== "string" || !title || title.length > 20) throw param("button title must be 1 to 20 characters");
    return { type: b.type, title, url: b.url };
  });
}

/** Checks a Send API body the way Graph does; throws GraphError (code 100) on anything else. */
export function parseSendRequest(body: unknown): SendRequest {
  if (!isRecord(body)) throw param("the body must be a JSON object");
  const psid = isRecord(body.recipient) ? body.recipient.id : undefined;
  if (typeof psid !== "string" || !/^\d{8,20}$/.test(psid)) throw param("recipient.id must be a page-scoped user id");
  if (body.messaging_type === "MESSAGE_TAG") {
    if (body.tag !== "ACCOUNT_UPDATE") throw param("this page may only use tag ACCOUNT_UPDATE");
  } else if (body.messaging_type !== "RESPONSE") {
    throw param("messaging_type must be RESPONSE, or MESSAGE_TAG with tag ACCOUNT_UPDATE");
  }
  const message = body.message;
  if (!isRecord(message)) throw param("message is required");
  if (typeof message.text === "string") {
    if (!message.text || message.text.length > 2000) throw param("message.text must be 1 to 2000 characters");
    return { psid, text: message.text };
  }
  const payload = isRecord(message.attachment) && message.attachment.type === "template" && isRecord(message.attachment.payload) ? message.attachment.payload : undefined;
  if (payload?.template_type !== "button") throw param("message needs text or a button template");
  if (typeof payload.text !== "string" || !payload.text || payload.text.length > 640) throw param("a button template's text must be 1 to 640 characters");
  return { psid, text: payload.text, buttons: parseButtons(payload.buttons) };
}
