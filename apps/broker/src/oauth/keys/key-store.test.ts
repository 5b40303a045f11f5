import { randomBytes } from "node:crypto";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../clock.ts";
import { createSealer, keyIdOf } from "../../crypto/seal.ts";
import { createKeyStore } from "./key-store.ts";
import { createKeysRepo } from "./keys-repo.ts";

describe("signing key store", () => {
  let db: TestDb;
  const master = randomBytes(32);
  const sealer = createSealer({ kid: keyIdOf(master), key: master });
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it("creates exactly one first key when several processes start together", async () => {
    const stores = Array.from({ length: 4 }, () => createKeyStore({ repo: createKeysRepo(db), sealer, clock: systemClock }));
    const tokens = await Promise.all(stores.map((s) => s.signer.sign({ n: 1 }, { typ: "JWT" })));
    const rows = await db.prisma.signingKey.findMany();
    expect(rows).toHaveLength(1);
    const jwks = createLocalJWKSet(await stores[0]!.jwks());
    for (const t of tokens) expect((await jwtVerify(t, jwks)).protectedHeader.kid).toBe(rows[0]!.kid);
  });

  it("rotates: the new key signs, the old one stays published for the token lifetime", async () => {
    const store = createKeyStore({ repo: createKeysRepo(db), sealer, clock: systemClock });
    const old = (await store.list())[0]!.kid;
    const kid = await store.rotate();
    const token = await store.signer.sign({ n: 2 }, { typ: "JWT" });
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid).toBe(kid);
    expect((await store.jwks()).keys.map((k) => k.kid)).toEqual([kid, old]);
    const retired = (await store.list()).find((k) => k.kid === old)!;
    expect(retired.publishUntil!.getTime() - retired.retiredAt!.getTime()).toBeGreaterThanOrEqual(600_000);
    const later = createKeyStore({ repo: createKeysRepo(db), sealer, clock: { now: () => new Date(Date.now() + 3600_000) } });
    expect((await later.jwks()).keys.map((k) => k.kid)).toEqual([kid]);
  });
});
