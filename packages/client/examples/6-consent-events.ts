// Consent events: verify each SET, act on it once per jti, whether pushed or polled.
import { type BrokerClient, type ConsentEvent, createEventVerifier, EventVerificationError } from "@link-broker/client";

type OnEvent = (event: ConsentEvent) => Promise<void>;

/** Push (RFC 8935): give it the body of each POST to your events_uri; answer what it returns. */
export function eventsEndpoint(options: { brokerUrl: string; clientId: string; onEvent: OnEvent; seen: Set<string> }) {
  const verifier = createEventVerifier(options);
  return async (body: string): Promise<{ status: number; json?: { err: string; description: string } }> => {
    let event: ConsentEvent;
    try {
      event = await verifier.verify(body);
    } catch (err) {
      // A SET that does not verify is refused for good; anything else (a 5xx) is retried.
      if (err instanceof EventVerificationError) return { status: 400, json: { err: "invalid_request", description: err.message } };
      throw err;
    }
    // Deliveries repeat (at least once): act on each jti once. Keep `seen` in your database.
    if (!options.seen.has(event.jti)) {
      await options.onEvent(event);
      options.seen.add(event.jti);
    }
    return { status: 202 };
  };
}

/** Poll (RFC 8936): take events until none are left, acknowledging each batch in the next call. */
export async function pollEvents(broker: BrokerClient, brokerUrl: string, onEvent: OnEvent): Promise<number> {
  const verifier = createEventVerifier({ brokerUrl, clientId: broker.clientId });
  let ack: string[] = [];
  let handled = 0;
  for (;;) {
    const { sets, moreAvailable } = await broker.pollEvents({ ack, returnImmediately: true });
    for (const set of Object.values(sets)) {
      await onEvent(await verifier.verify(set));
      handled++;
    }
    ack = Object.keys(sets);
    if (!moreAvailable && ack.length === 0) return handled;
  }
}
