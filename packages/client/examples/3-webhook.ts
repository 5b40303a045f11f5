// Step 3: Messenger's `account_linking` webhook on your page: exchange the code, or forget an unlink.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { BrokerClient, Tokens } from "@link-broker/client";

export async function onMessengerWebhook(
  rawBody: Buffer,
  signature: string | undefined,
  ctx: { appSecret: string; broker: BrokerClient; verifiers: Map<string, string>; tokens: Map<string, Tokens> },
) {
  // Messenger signs the exact bytes: check before parsing, in constant time.
  const expected = Buffer.from(`sha256=${createHmac("sha256", ctx.appSecret).update(rawBody).digest("hex")}`);
  const given = Buffer.from(signature ?? "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 401 };

  const body = JSON.parse(rawBody.toString("utf8"));
  for (const entry of body.entry ?? []) {
    for (const event of entry.messaging ?? []) {
      const psid: string = event.sender.id;
      const linking = event.account_linking;
      if (linking?.status === "linked" && linking.authorization_code) {
        const verifier = ctx.verifiers.get(psid);
        if (!verifier) continue; // not a link this bank started
        ctx.verifiers.delete(psid);
        // Single-use and valid 60 seconds: exchange it at once.
        ctx.tokens.set(psid, await ctx.broker.exchangeCode({ code: linking.authorization_code, codeVerifier: verifier }));
      } else if (linking?.status === "unlinked") {
        // The broker has already revoked the tokens and recorded the withdrawal.
        ctx.tokens.delete(psid);
      }
    }
  }
  return { status: 200 };
}
