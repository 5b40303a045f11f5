// @link-broker/client: what a bank needs to integrate with link-broker (docs/banks.md).
export { type BrokerClient, type BrokerClientOptions, type CheckQuery, type CheckResult, type ClientAuthentication, type ConsentReceipt, createBrokerClient, type Introspection, type Link, type LinkRequest, type Tokens } from "./broker-client.ts";
export { BrokerError, BrokerUnreachableError } from "./errors.ts";
export { type ConsentEvent, type ConsentEventBody, type ConsentEventType, createEventVerifier, EventVerificationError, type EventVerifier, type EventVerifierOptions, SET_TYP } from "./events.ts";
export { brokerIsUp } from "./health.ts";
export { type EcPublicJwk, generateKeyPair, importDpopKeyPair, importPrivateJwk, pkce, publicJwk } from "./keys.ts";
export { type ClientMetadata, deleteRegistration, type ManageOptions, readRegistration, type Registration, type RegistrationOptions, type RegistrationView, registerClient, updateRegistration } from "./registration.ts";
export type { components, paths } from "./generated/openapi.ts";
export type { CryptoKey, CryptoKeyPair, JWK } from "openid-client";
