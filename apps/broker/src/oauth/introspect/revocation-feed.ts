import type { TokensRepo } from "../token/tokens-repo.ts";

/**
 * Revoked access token ids, mirrored in memory from the AccessToken table so that checking a
 * client_credentials token (never written at issue) costs no query. A revocation made in this
 * process counts at once; one made by another process counts here within `refreshMs` (the same
 * bound DESIGN.md sets for consent withdrawals): a mirror older than that is synced before it
 * answers (one query a second at most, shared by every request waiting on it). Tokens of a grant are checked in the database
 * instead, so grant revocations (code replay, refresh reuse, unlinking) are always immediate.
 */
export function createRevocationFeed(deps: { repo: Pick<TokensRepo, "revokedAccessTokens">; refreshMs?: number }) {
  const { repo } = deps;
  const refreshMs = deps.refreshMs ?? 1000;
  const revoked = new Map<string, number>(); // jti → expiresAt (ms)
  let syncedAt = 0;
  let since = new Date(0);
  let syncing: Promise<void> | undefined;

  async function sync() {
    const started = new Date();
    const rows = await repo.revokedAccessTokens(new Date(since.getTime() - 5_000), started);
    for (const r of rows) revoked.set(r.jti, r.expiresAt.getTime());
    const now = Date.now();
    for (const [jti, exp] of revoked) if (exp <= now) revoked.delete(jti);
    since = started;
    syncedAt = Date.now();
  }

  function refresh(): Promise<void> {
    syncing ??= sync().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  return {
    /** Answered at once while the mirror is fresh (the hot path), after a sync otherwise. */
    isRevoked(jti: string): boolean | Promise<boolean> {
      if (syncedAt === 0 || Date.now() - syncedAt > refreshMs) return refresh().then(() => revoked.has(jti));
      return revoked.has(jti);
    },
    /** Records a revocation made in this process. */
    add(jti: string, expiresAt: Date) {
      revoked.set(jti, expiresAt.getTime());
    },
  };
}
export type RevocationFeed = ReturnType<typeof createRevocationFeed>;
