// The bank's own Messenger Send API client: pushes go from the bank straight to Messenger with
// the page token the bank holds. The broker never sees them (DESIGN.md, "The sandbox").
export interface PageMessage {
  text: string;
  /** A button template instead of plain text. */
  buttons?: ({ type: "account_link"; url: string } | { type: "web_url"; url: string; title: string })[];
}

export class SendApiError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

export function createMessengerSend(options: { graphUrl: string; pageAccessToken: string; timeoutMs: number }) {
  /** Sends an ACCOUNT_UPDATE message the customer did not ask for; throws SendApiError when Graph refuses it. */
  return async function send(psid: string, message: PageMessage): Promise<{ message_id: string }> {
    const url = new URL(`${options.graphUrl}/me/messages`);
    url.searchParams.set("access_token", options.pageAccessToken);
    const body = {
      recipient: { id: psid },
      messaging_type: "MESSAGE_TAG",
      tag: "ACCOUNT_UPDATE",
      message: message.buttons
        ? { attachment: { type: "template", payload: { template_type: "button", text: message.text, buttons: message.buttons } } }
        : { text: message.text },
    };
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (err) {
      throw new SendApiError(`Messenger is not reachable: ${(err as Error).message}`, undefined);
    }
    const answer = (await res.json().catch(() => ({}))) as { message_id?: string; error?: { message?: string; code?: number } };
    if (!res.ok || !answer.message_id) throw new SendApiError(answer.error?.message ?? `Send API answered ${res.status}`, answer.error?.code);
    return { message_id: answer.message_id };
  };
}

export type MessengerSend = ReturnType<typeof createMessengerSend>;
