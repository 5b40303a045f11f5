import type { Db, Tx } from "@link-broker/db";

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

async function revokeGrantIn(tx: Tx, grantId: string, reason: string, now: Date) {
  await tx.grant.updateMany({ where: { id: grantId, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
  await tx.refreshToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } });
  await tx.accessToken.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: now } });
}

export function createTokensRepo(db: Db) {
  const { prisma } = db;
  return {
    findCode: (codeHash: string) => prisma.authorizationCode.findUnique({ where: { codeHash } }),
    /** Writes a code inside the caller's transaction (the linking flow's consent transaction). */
    async createCode(tx: Tx, code: NewAuthorizationCode): Promise<void> {
      await tx.authorizationCode.create({ data: code });
    },
    /** Access tokens revoked since `since` that are still unexpired at `now` (the revocation feed). */
    revokedAccessTokens: (since: Date, now: Date): Promise<{ jti: string; expiresAt: Date }[]> =>
      prisma.accessToken.findMany({ where: { expiresAt: { gt: now }, revokedAt: { not: null, gte: since } }, select: { jti: true, expiresAt: true } }),
    findGrant: (id: string): Promise<GrantRow | null> => prisma.grant.findUnique({ where: { id } }),
    findRefresh: (tokenHash: string) => prisma.refreshToken.findUnique({ where: { tokenHash } }),
    findAccessToken: (jti: string) => prisma.accessToken.findUnique({ where: { jti }, select: { revokedAt: true, grantId: true, clientId: true } }),

    /**
     * Consumes a code and records its grant and first tokens in one transaction. Returns false when
     * the code was already consumed (a concurrent or replayed exchange): nothing is written.
     */
    async exchangeCode(codeHash: string, now: Date, grant: Omit<GrantRow, "revokedAt">, access: NewAccessToken, refresh: NewRefreshToken): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const { count } = await tx.authorizationCode.updateMany({ where: { codeHash, consumedAt: null }, data: { consumedAt: now, grantId: grant.id } });
        if (count !== 1) return false;
        await tx.grant.create({ data: { ...grant, createdAt: now } });
        await tx.accessToken.create({ data: access });
        await tx.refreshToken.create({ data: { ...refresh, createdAt: now } });
        return true;
      });
    },

    /** A non-rotating (DPoP-bound) refresh token's new expiry: its consent's. */
    async setRefreshExpiry(tokenHash: string, expiresAt: Date): Promise<void> {
      await prisma.refreshToken.updateMany({ where: { tokenHash, revokedAt: null }, data: { expiresAt } });
    },

    /** Marks a refresh token used; false when it already was (reuse). */
    async markRefreshRotated(tokenHash: string, now: Date): Promise<boolean> {
      const { count } = await prisma.refreshToken.updateMany({ where: { tokenHash, rotatedAt: null, revokedAt: null }, data: { rotatedAt: now } });
      return count === 1;
    },

    async saveTokens(access: NewAccessToken, refresh?: NewRefreshToken): Promise<void> {
      if (!refresh) {
        await prisma.accessToken.create({ data: access });
        return;
      }
      await prisma.$transaction([prisma.accessToken.create({ data: access }), prisma.refreshToken.create({ data: refresh })]);
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
