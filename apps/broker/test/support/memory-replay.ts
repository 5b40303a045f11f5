import type { ReplayRepo } from "../../src/oauth/shared/replay-repo.ts";

/** ReplayGuard's rule in memory, for unit tests: a key is taken until it expires, then it may be taken again. */
export function memoryReplay(): ReplayRepo {
  const taken = new Map<string, Date>();
  return {
    async consumeOnce(key, expiresAt, now) {
      const until = taken.get(key);
      if (until && until >= now) return false;
      taken.set(key, expiresAt);
      return true;
    },
  };
}
