import { describe, it } from "vitest";

/**
 * The end-to-end journey needs the OAuth server and the consent ledger. Once they are wired into
 * `buildApp({ linking })`, start `startLinkingEnv({ deps: realDeps })` and use `driveLinkFlow`
 * (test/support/link-flow.ts) for the browser part.
 */
describe("linking end to end (needs the OAuth server and the ledger)", () => {
  it.todo("PAR → /link → bank login → TOTP enrol → approve → token exchange → /ledger/check allowed");
  it.todo("DELETE /links/{id} → /ledger/check withdrawn → introspection inactive → Graph unlink called");
  it.todo("second link of the same customer verifies TOTP (no enrolment) and renews the consent");
  it.todo("a replayed authorization code revokes the tokens it issued");
  it.todo("Messenger `unlinked` webhook → refresh fails, introspection inactive, no Graph call");
});
