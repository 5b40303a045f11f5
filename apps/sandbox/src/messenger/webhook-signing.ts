// Messenger's webhook signature: X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body).
import { createHmac, timingSafeEqual } from "node:crypto";

export function signWebhook(rawBody: string | Buffer, appSecret: string): string {
  return `sha256=${createHmac("sha256", appSecret).update(rawBody).digest("hex")}`;
}

export function verifyWebhookSignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhook(rawBody, appSecret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface WebhookDelivery {
  url: string;
  ok: boolean;
  status?: number;
  body?: unknown;
}

/** Posts the exact bytes it signed, the way Messenger delivers a page subscription's events. */
export async function deliverWebhook(url: string, payload: unknown, appSecret: string, timeoutMs = 8000): Promise<WebhookDelivery> {
  const raw = JSON.stringify(payload);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": signWebhook(raw, appSecret) },
      body: raw,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { url, ok: res.ok, status: res.status, body };
  } catch {
    return { url, ok: false };
  }
}

export function accountLinkingEvent(pageId: string, psid: string, linking: { status: "linked" | "unlinked"; authorization_code?: string }, now = Date.now()) {
  return {
    object: "page",
    entry: [{ id: pageId, time: now, messaging: [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: now, account_linking: linking }] }],
  };
}

export function messageEvent(pageId: string, psid: string, text: string, now = Date.now()) {
  return {
    object: "page",
    entry: [{ id: pageId, time: now, messaging: [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: now, message: { mid: `m_${now}`, text } }] }],
  };
}
