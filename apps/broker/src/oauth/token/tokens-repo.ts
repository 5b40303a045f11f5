import type { AuthorizationCode, Db, Statement, Tx, TxSql } from "@link-broker/db";

export interface GrantRow {
  id: string;
  clientId: string;
  linkId: string | null;
  consentId: string | null;
  subject: string | null;
  scopes: string[];
  dpopJkt: string | null;
  revokedAt: Date | null;
}

/** A consent's recorded status and expiry, read in the same query as the code or token that names it. */
export interface ConsentRow {
  status: string;
  expiresAt: Date;
}

export interface NewAccessToken {
  jti: string;
  grantId: string | null;
  clientId: string;
  expiresAt: Date;
}

export interface NewRefreshToken {
  tokenHash: string;
  grantId: string;
  clientId: string;
  dpopJkt: string | null;
  expiresAt: Date;
}

export interface NewAuthorizationCode {
  codeHash: string;
  clientId: string;
  linkId: string;
  attemptId: string;
  consentId: string | null;
  subject: string;
  scopes: string[];
  codeChallenge: string;
  codeChallengeMethod: "S256";
  expiresAt: Date;
  createdAt: Date;
}

export interface RefreshRow {
  tokenHash: string;
  grantId: string;
  clientId: string;
  dpopJkt: string | null;
  expiresAt: Date;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

// The token endpoint's and introspection's statements, prepared once per connection (Db.sql).
const FIND_CODE: Statement = {
  name: "lb_find_code",
  text: `SELECT a."codeHash", a."clientId", a."linkId", a."attemptId", a."consentId", a."subject", a."scopes", a."codeChallenge", a."codeChallengeMethod",
      a."expiresAt", a."consumedAt", a."grantId", a."createdAt", c."status" AS "c_status", c."expiresAt" AS "c_expiresAt"
    FROM authorization_code a LEFT JOIN consent c ON c."id" = a."consentId"
    WHERE a."codeHash" = $1`,
};

const CREATE_CODE: Statement = {
  name: "lb_create_code",
  text: `INSERT INTO authorization_code ("codeHash", "clientId", "linkId", "attemptId", "consentId", "subject", "scopes", "codeChallenge", "codeChallengeMethod", "expiresAt", "createdAt")
    VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10::timestamp(3), $11::timestamp(3))`,
};

// A grant's columns joined as `g`, prefixed so they do not collide with the token's own.
const GRANT_COLUMNS = `g."id" AS "g_id", g."clientId" AS "g_clientId", g."linkId" AS "g_linkId", g."consentId" AS "g_consentId",
      g."subject" AS "g_subject", g."scopes" AS "g_scopes", g."dpopJkt" AS "g_dpopJkt", g."revokedAt" AS "g_revokedAt"`;
type GrantColumns = { g_id: string | null; g_clientId: string; g_linkId: string | null; g_consentId: string | null; g_subject: string | null; g_scopes: string[]; g_dpopJkt: string | null; g_revokedAt: Date | null };
const grantOf = (row: GrantColumns): GrantRow | null =>
  row.g_id === null ? null : { id: row.g_id, clientId: row.g_clientId, linkId: row.g_linkId, consentId: row.g_consentId, subject: row.g_subject, scopes: row.g_scopes, dpopJkt: row.g_dpopJkt, revokedAt: row.g_revokedAt };
// A consent's status and expiry joined as `c`.
type ConsentColumns = { c_status: string | null; c_expiresAt: Date | null };
const consentOf = (row: ConsentColumns): ConsentRow | null => (row.c_status === null || row.c_expiresAt === null ? null : { status: row.c_status, expiresAt: row.c_expiresAt });

// A refresh token (its hash the parameter `hash` names), its grant and that grant's consent.
const refreshWithGrantBy = (hash: string) => `SELECT r."tokenHash", r."grantId", r."clientId", r."dpopJkt", r."expiresAt", r."rotatedAt", r."revokedAt", r."createdAt",
      ${GRANT_COLUMNS},
      c."status" AS "c_status", c."expiresAt" AS "c_expiresAt"
    FROM refresh_token r LEFT JOIN "grant" g ON g."id" = r."grantId" LEFT JOIN consent c ON c."id" = g."consentId"
    WHERE r."tokenHash" = ${hash}`;
const FIND_REFRESH: Statement = { name: "lb_find_refresh", text: refreshWithGrantBy("$1") };

type RefreshColumns = RefreshRow & GrantColumns & ConsentColumns;
export interface RefreshWithGrant {
  refresh: RefreshRow;
  grant: GrantRow | null;
  consent: ConsentRow | null;
}
const refreshWithGrant = (row: RefreshColumns): RefreshWithGrant => ({
  refresh: { tokenHash: row.tokenHash, grantId: row.grantId, clientId: row.clientId, dpopJkt: row.dpopJkt, expiresAt: row.expiresAt, rotatedAt: row.rotatedAt, revokedAt: row.revokedAt, createdAt: row.createdAt },
  grant: grantOf(row),
  consent: consentOf(row),
});

// An access token's row, its grant and that grant's consent: introspection of a customer's token reads all three.
const FIND_ACCESS: Statement = {
  name: "lb_find_access",
  text: `SELECT a."revokedAt", ${GRANT_COLUMNS}, c."status" AS "c_status", c."expiresAt" AS "c_expiresAt"
    FROM access_token a LEFT JOIN "grant" g ON g."id" = a."grantId" LEFT JOIN consent c ON c."id" = g."consentId"
    WHERE a."jti" = $1`,
};

// After a code exchange wrote its grant: the consent's status and expiry, and whether the link
// is active and holds that consent, in one read (the grant is then kept or revoked).
const FIND_STANDING: Statement = {
  name: "lb_find_standing",
  text: `SELECT c."status" AS "c_status", c."expiresAt" AS "c_expiresAt",
      EXISTS (SELECT 1 FROM link l WHERE l."id" = $2 AND l."status" = 'active' AND l."consentId" = $1) AS "linkHolds"
    FROM (SELECT 1) AS one LEFT JOIN consent c ON c."id" = $1`,
};

/**
 * The CTEs that write an access token and the next refresh token, only when the `used` CTE
 * consumed a code or a refresh token: $n..$n+3 the access token (jti, grant, client, expiry),
 * $n+4..$n+8 the refresh token (hash, grant, client, DPoP key, expiry); $1 is now.
 */
const tokenInserts = (n: number) => `at AS (
      INSERT INTO access_token ("jti", "grantId", "clientId", "expiresAt")
      SELECT $${n}, $${n + 1}, $${n + 2}, $${n + 3}::timestamp(3) FROM used
    ), rt AS (
      INSERT INTO refresh_token ("tokenHash", "grantId", "clientId", "dpopJkt", "expiresAt", "createdAt")
      SELECT $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8}::timestamp(3), $1::timestamp(3) FROM used
    )`;

const EXCHANGE_CODE: Statement = {
  name: "lb_exchange_code",
  text: `WITH used AS (
      UPDATE authorization_code SET "consumedAt" = $1::timestamp(3), "grantId" = $2
      WHERE "codeHash" = $3 AND "consumedAt" IS NULL
      RETURNING 1
    ), g AS (
      INSERT INTO "grant" ("id", "clientId", "linkId", "consentId", "subject", "scopes", "dpopJkt", "createdAt")
      SELECT $2, $4, $5, $6, $7, $8::text[], $9, $1::timestamp(3) FROM used
    ), ${tokenInserts(10)}
    SELECT count(*)::int AS exchanged FROM used`,
};

const ROTATE_REFRESH: Statement = {
  name: "lb_rotate_refresh",
  text: `WITH used AS (
      UPDATE refresh_token SET "rotatedAt" = $1::timestamp(3)
      WHERE "tokenHash" = $2 AND "rotatedAt" IS NULL AND "revokedAt" IS NULL
      RETURNING 1
    ), ${tokenInserts(3)}
    SELECT count(*)::int AS rotated FROM used`,
};

/**
 * A refresh token's first use in one statement: reads the token, its grant and its consent (as
 * FIND_REFRESH) and, only when the token may rotate, rotates it and writes the access token and
 * the next refresh token, as ROTATE_REFRESH does. It may rotate when it is the client's, neither
 * revoked, rotated nor DPoP-bound, its grant stands, and it is live: by its consent under the
 * ledger's rule (consent-state.ts effectiveState: not withdrawn or expired, and not past its
 * expiry), or by its own expiry without one. The next token lives until then. $1 now, $2 the used
 * token's hash, $3 the client, $4..$5 the access token (jti, expiry), $6 the next token's hash.
 */
const ROTATE_FIRST_USE: Statement = {
  name: "lb_rotate_first_use",
  text: `WITH r AS (
      ${refreshWithGrantBy("$2")}
    ), live AS (
      SELECT "grantId", CASE WHEN "g_consentId" IS NULL THEN "expiresAt" ELSE "c_expiresAt" END AS "until" FROM r
      WHERE "clientId" = $3 AND "revokedAt" IS NULL AND "rotatedAt" IS NULL AND "dpopJkt" IS NULL AND "g_id" IS NOT NULL AND "g_revokedAt" IS NULL
        AND CASE WHEN "g_consentId" IS NULL THEN "expiresAt" > $1::timestamp(3)
                 ELSE "c_status" NOT IN ('withdrawn', 'expired') AND "c_expiresAt" > $1::timestamp(3) END
    ), used AS (
      UPDATE refresh_token SET "rotatedAt" = $1::timestamp(3)
      FROM live WHERE refresh_token."tokenHash" = $2 AND refresh_token."rotatedAt" IS NULL AND refresh_token."revokedAt" IS NULL
      RETURNING live."grantId", live."until"
    ), at AS (
      INSERT INTO access_token ("jti", "grantId", "clientId", "expiresAt") SELECT $4, "grantId", $3, $5::timestamp(3) FROM used
    ), rt AS (
      INSERT INTO refresh_token ("tokenHash", "grantId", "clientId", "dpopJkt", "expiresAt", "createdAt") SELECT $6, "grantId", $3, NULL, "until", $1::timestamp(3) FROM used
    )
    SELECT r.*, (SELECT count(*) FROM used)::int AS "rotated" FROM r`,
};

async function revokeGrantIn(tx: Tx, grantId: string, reason: string, now: Date) {
  await tx.grant.updateMany({ where: { id: grantId, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
  await tx.refreshToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } });
  await tx.accessToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } });
}

export function createTokensRepo(db: Db) {
  const { prisma, sql } = db;
  return {
    findCode: (codeHash: string) => prisma.authorizationCode.findUnique({ where: { codeHash } }),
    /**
     * A code and the status and expiry of its consent in one round trip (the code exchange reads
     * both; the ledger's rule judges the consent, token-service.ts ConsentUntil). `consent` is
     * null when the code names none or it is unknown.
     */
    async findCodeWithConsent(codeHash: string): Promise<{ code: AuthorizationCode; consent: ConsentRow | null } | null> {
      const rows = await sql<AuthorizationCode & { c_status: string | null; c_expiresAt: Date | null }>(FIND_CODE, [codeHash]);
      const row = rows[0];
      if (!row) return null;
      const { c_status, c_expiresAt, ...code } = row;
      return { code, consent: consentOf({ c_status, c_expiresAt }) };
    },
    /**
     * A consent's status and expiry (null when it is unknown), and whether the link is active and
     * holds exactly that consent: what a code exchange checks once its grant is written.
     */
    async findStanding(consentId: string, linkId: string | null): Promise<{ consent: ConsentRow | null; linkHolds: boolean }> {
      const row = (await sql<ConsentColumns & { linkHolds: boolean }>(FIND_STANDING, [consentId, linkId]))[0]!;
      return { consent: consentOf(row), linkHolds: row.linkHolds };
    },
    /** Writes a code inside the caller's transaction (the linking flow's consent transaction). */
    async createCode(tx: TxSql, c: NewAuthorizationCode): Promise<void> {
      await tx(CREATE_CODE, [c.codeHash, c.clientId, c.linkId, c.attemptId, c.consentId, c.subject, c.scopes, c.codeChallenge, c.codeChallengeMethod, c.expiresAt, c.createdAt]);
    },
    /** Access tokens revoked since `since` that are still unexpired at `now` (the revocation feed). */
    revokedAccessTokens: (since: Date, now: Date): Promise<{ jti: string; expiresAt: Date }[]> =>
      prisma.accessToken.findMany({ where: { expiresAt: { gt: now }, revokedAt: { not: null, gte: since } }, select: { jti: true, expiresAt: true } }),
    findRefresh: (tokenHash: string) => prisma.refreshToken.findUnique({ where: { tokenHash } }),
    /**
     * A refresh token, its grant and the status and expiry of the grant's consent in one round
     * trip (the refresh grant's hot path reads all three; the ledger's rule judges the consent,
     * token-service.ts ConsentUntil). `grant` is null when the grant row is gone, `consent` when
     * the grant names none or it is unknown.
     */
    async findRefreshWithGrant(tokenHash: string): Promise<RefreshWithGrant | null> {
      const row = (await sql<RefreshColumns>(FIND_REFRESH, [tokenHash]))[0];
      return row ? refreshWithGrant(row) : null;
    },
    /**
     * The refresh grant's common case in one round trip (ROTATE_FIRST_USE): the token, its grant and
     * its consent as findRefreshWithGrant reads them, and whether this use rotated it (then the
     * access token `access` and the next refresh token `nextHash` are written, until the consent's
     * expiry or, without one, the used token's). Not rotated: nothing is written, and the caller
     * judges from what was read.
     */
    async rotateFirstUse(tokenHash: string, now: Date, clientId: string, access: { jti: string; expiresAt: Date }, nextHash: string): Promise<(RefreshWithGrant & { rotated: boolean }) | null> {
      const row = (await sql<RefreshColumns & { rotated: number }>(ROTATE_FIRST_USE, [now, tokenHash, clientId, access.jti, access.expiresAt, nextHash]))[0];
      return row ? { ...refreshWithGrant(row), rotated: row.rotated === 1 } : null;
    },
    /**
     * An access token's row, its grant and the status and expiry of the grant's consent in one
     * round trip. `grant` is null when the row names none or it is gone, `consent` when the grant
     * names none or it is unknown.
     */
    async findAccessTokenGrant(jti: string): Promise<{ revokedAt: Date | null; grant: GrantRow | null; consent: ConsentRow | null } | null> {
      const row = (await sql<GrantColumns & ConsentColumns & { revokedAt: Date | null }>(FIND_ACCESS, [jti]))[0];
      return row ? { revokedAt: row.revokedAt, grant: grantOf(row), consent: consentOf(row) } : null;
    },

    /**
     * Consumes a code and records its grant and first tokens in one statement, so one round trip
     * and one commit (as rotateRefresh). Returns false when the code was already consumed (a
     * concurrent or replayed exchange): then nothing is written. A concurrent exchange waits on
     * the code's row lock and then finds it consumed.
     */
    async exchangeCode(codeHash: string, now: Date, grant: Omit<GrantRow, "revokedAt">, access: NewAccessToken, refresh: NewRefreshToken): Promise<boolean> {
      const rows = await sql<{ exchanged: number }>(EXCHANGE_CODE, [
        now, grant.id, codeHash, grant.clientId, grant.linkId, grant.consentId, grant.subject, grant.scopes, grant.dpopJkt,
        access.jti, access.grantId, access.clientId, access.expiresAt,
        refresh.tokenHash, refresh.grantId, refresh.clientId, refresh.dpopJkt, refresh.expiresAt,
      ]);
      return rows[0]?.exchanged === 1;
    },

    /** A non-rotating (DPoP-bound) refresh token's new expiry: its consent's. */
    async setRefreshExpiry(tokenHash: string, expiresAt: Date): Promise<void> {
      await prisma.refreshToken.updateMany({ where: { tokenHash, revokedAt: null }, data: { expiresAt } });
    },

    /**
     * Rotation in one statement, so one round trip and one commit: marks the used refresh token
     * rotated and, only if that succeeded, writes the access token and the next refresh token.
     * False when the token was already rotated or revoked (reuse): then nothing is written. A
     * concurrent second use waits on the row lock and then finds it rotated (READ COMMITTED
     * re-checks the WHERE clause on the updated row).
     */
    async rotateRefresh(usedHash: string, now: Date, access: NewAccessToken, next: NewRefreshToken): Promise<boolean> {
      const rows = await sql<{ rotated: number }>(ROTATE_REFRESH, [
        now, usedHash, access.jti, access.grantId, access.clientId, access.expiresAt, next.tokenHash, next.grantId, next.clientId, next.dpopJkt, next.expiresAt,
      ]);
      return rows[0]?.rotated === 1;
    },

    /** An access token issued on a refresh token that is kept (DPoP-bound, not rotated). */
    async saveAccessToken(access: NewAccessToken): Promise<void> {
      await prisma.accessToken.create({ data: access });
    },

    async revokeGrant(grantId: string, reason: string, now: Date): Promise<void> {
      await prisma.$transaction((tx) => revokeGrantIn(tx, grantId, reason, now));
    },

    /** Ends every grant of a link (unlinking); returns how many were still active. */
    async revokeGrantsOfLink(linkId: string, reason: string, now: Date): Promise<number> {
      return prisma.$transaction(async (tx) => {
        const grants = await tx.grant.findMany({ where: { linkId, revokedAt: null }, select: { id: true } });
        for (const g of grants) await revokeGrantIn(tx, g.id, reason, now);
        return grants.length;
      });
    },

    /** Revokes one access token; client_credentials tokens have no row yet, so one is written. */
    async revokeAccessToken(jti: string, clientId: string, expiresAt: Date, now: Date): Promise<void> {
      await prisma.accessToken.upsert({
        where: { jti },
        create: { jti, clientId, expiresAt, revokedAt: now },
        update: { revokedAt: now },
      });
    },
  };
}
export type TokensRepo = ReturnType<typeof createTokensRepo>;
