// Going live: rotate the client assertion key without downtime (RFC 7592 update).
import { type BrokerClient, type ClientMetadata, createBrokerClient, type CryptoKeyPair, generateKeyPair, publicJwk, updateRegistration } from "@link-broker/client";

export async function rotateClientKey(options: {
  brokerUrl: string;
  clientId: string;
  registrationAccessToken: string;
  metadata: ClientMetadata;
  oldKey: { kid: string; pair: CryptoKeyPair };
  dpop: CryptoKeyPair;
}): Promise<BrokerClient> {
  const next = await generateKeyPair({ extractable: true });
  const kid = `bank-${Date.now()}`;
  // 1. Publish both keys, so assertions signed with either pass while your instances switch.
  const both = [{ ...(await publicJwk(options.oldKey.pair.publicKey, options.oldKey.kid)) }, { ...(await publicJwk(next.publicKey, kid)) }];
  const manage = { brokerUrl: options.brokerUrl, clientId: options.clientId, registrationAccessToken: options.registrationAccessToken };
  await updateRegistration({ ...manage, metadata: { ...options.metadata, jwks: { keys: both } } });
  // 2. Sign with the new key everywhere.
  const broker = createBrokerClient({ brokerUrl: options.brokerUrl, clientId: options.clientId, auth: { method: "private_key_jwt", privateKey: next.privateKey, kid }, dpop: options.dpop });
  // 3. Then drop the old key.
  await updateRegistration({ ...manage, metadata: { ...options.metadata, jwks: { keys: [both[1]!] } } });
  return broker;
}
