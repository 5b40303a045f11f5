// Step 2: push the link request and build Messenger's `account_link` button.
import { type BrokerClient, pkce } from "@link-broker/client";

export async function linkButton(broker: BrokerClient, psid: string, verifiers: Map<string, string>) {
  const { verifier, challenge } = await pkce();
  const { url } = await broker.pushAuthorizationRequest({
    scope: "balance:read alerts:fraud",
    codeChallenge: challenge,
    consentDurationDays: 90,
  });
  // Keep the verifier for this customer until Messenger's webhook brings the code back.
  verifiers.set(psid, verifier);
  // Send API message (POST {graph}/me/messages): a fresh button for every tap; PAR answers are
  // single-use and live 90 seconds.
  return {
    recipient: { id: psid },
    message: {
      attachment: {
        type: "template",
        payload: { template_type: "button", text: "Link your bank account", buttons: [{ type: "account_link", url }] },
      },
    },
  };
}
