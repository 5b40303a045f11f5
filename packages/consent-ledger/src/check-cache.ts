/**
 * The in-process cache behind `check`, keyed by lookup (`l:<linkId>`, `s:<clientId>:<subject>`,
 * `p:<clientId>:<psid>`), holding the consents of that key.
 *
 * Correctness across processes:
 * - every append queues `NOTIFY link_broker_ledger, {consentId, keys}` in its own transaction, so
 *   Postgres delivers it to every listening process right after commit (never for a rollback);
 *   a process deletes those keys when it arrives;
 * - the listener also sends itself a heartbeat NOTIFY every HEARTBEAT_MS on the same connection.
 *   Postgres delivers notifications in commit order, so a heartbeat that came back proves every
 *   append committed before it was sent has been applied. The cache answers only while the last
 *   heartbeat it saw was sent less than STALE_MS ago; otherwise (connection lost, reconnecting,
 *   stalled) `check` reads the database. Entries are cleared whenever the listener (re)connects
 *   or goes stale. So a withdrawal is refused everywhere within STALE_MS + delivery time, and
 *   never allowed again after that, even across a silent network failure.
 * - a read that raced with an invalidation is not stored (epoch counter).
 * On PGlite (one process) the embedded database's own listen/notify invalidates the cache.
 */
import type { Consent, Db } from "@link-broker/db";
import pgListen from "pg-listen";
import { INVALIDATION_CHANNEL } from "./ledger-store.ts";

export const HEARTBEAT_MS = 200;
export const STALE_MS = 600;
/** The LISTEN connection's application_name (visible in pg_stat_activity). */
export const LISTENER_APPLICATION_NAME = "link-broker-ledger-listener";
const MAX_KEYS = 100_000;

type Subscriber = ReturnType<typeof import("pg-listen").default>;
const createSubscriber = ((pgListen as unknown as { default?: unknown }).default ?? pgListen) as typeof import("pg-listen").default;

export interface CheckCache {
  /** Cached consents of a key, or undefined (miss, or the cache cannot be trusted right now). */
  get(key: string): Consent[] | undefined;
  /** Stores a read, unless an invalidation happened since `epoch` was taken. */
  set(key: string, value: Consent[], epoch: number): void;
  epoch(): number;
  invalidate(keys: readonly string[]): void;
  clear(): void;
  /** True while cached answers are known to be fresh. */
  usable(): boolean;
  start(): Promise<void>;
  close(): Promise<void>;
  stats(): { hits: number; misses: number; invalidations: number; size: number };
}

/**
 * Where invalidations come from: subscribes `deliver` to every append's payload and answers the
 * unsubscribe. Given, it replaces Postgres LISTEN (and its heartbeat) and PGlite's listen; a test
 * passes one that holds the notifications back, to see what this process does without them.
 */
export type InvalidationSource = (deliver: (payload: unknown) => void) => Promise<() => Promise<void>>;

export interface CheckCacheOptions {
  /** False: never cache. */
  enabled?: boolean;
  /** The invalidation source; default Postgres LISTEN, or PGlite listen. */
  source?: InvalidationSource;
  now?: () => number;
  /**
   * Called for every append this process hears of (its own and other processes'), after commit,
   * and once when the LISTEN connection is back after a loss (appends in the gap went unheard).
   */
  onAppend?: () => void;
}

export function createCheckCache(db: Db, options: CheckCacheOptions = {}): CheckCache {
  const now = options.now ?? (() => Date.now());
  const map = new Map<string, Consent[]>();
  let epoch = 0;
  let hits = 0;
  let misses = 0;
  let invalidations = 0;
  let trustedUntil = 0; // for Postgres: last heartbeat sent + STALE_MS
  let listening = false;
  let subscriber: Subscriber | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const enabled = options.enabled ?? true;

  function clear() {
    epoch++;
    map.clear();
  }
  function invalidate(keys: readonly string[]) {
    epoch++;
    invalidations++;
    for (const k of keys) map.delete(k);
  }
  function onPayload(payload: unknown) {
    const p = payload as { consentId?: string; keys?: string[]; hb?: string; sentAt?: number } | undefined;
    if (!p || typeof p !== "object") return clear();
    if (p.hb !== undefined) {
      if (p.hb === token && typeof p.sentAt === "number") {
        if (now() >= trustedUntil) clear(); // was stale: anything cached may predate a missed notify
        trustedUntil = Math.max(trustedUntil, p.sentAt + STALE_MS);
      }
      return;
    }
    if (Array.isArray(p.keys)) invalidate(p.keys);
    else clear();
    options.onAppend?.();
  }

  const usable = () => {
    if (!enabled || !listening) return false;
    if (db.kind === "pglite" || options.source) return true;
    return now() < trustedUntil;
  };

  return {
    get(key) {
      if (!usable()) {
        if (map.size) clear();
        misses++;
        return undefined;
      }
      const v = map.get(key);
      if (v) hits++;
      else misses++;
      return v;
    },
    set(key, value, at) {
      if (at !== epoch || !usable()) return;
      if (map.size >= MAX_KEYS) map.clear();
      map.set(key, value);
    },
    epoch: () => epoch,
    invalidate,
    clear,
    usable,
    stats: () => ({ hits, misses, invalidations, size: map.size }),

    async start() {
      if (!enabled) return;
      if (options.source) {
        unlisten = await options.source(onPayload);
        listening = true;
        return;
      }
      if (db.kind === "pglite" && db.pglite) {
        unlisten = await db.pglite.listen(INVALIDATION_CHANNEL, (raw) => {
          try {
            onPayload(JSON.parse(raw));
          } catch {
            clear();
            options.onAppend?.();
          }
        });
        listening = true;
        return;
      }
      if (!db.url) return; // no way to hear other processes: never cache
      const sub = createSubscriber({ connectionString: db.url, application_name: LISTENER_APPLICATION_NAME }, { retryLimit: Infinity, retryTimeout: 0, retryInterval: 250, paranoidChecking: false });
      subscriber = sub;
      sub.events.on("notification", (n) => {
        if (n.channel === INVALIDATION_CHANNEL) onPayload(n.payload);
      });
      sub.events.on("reconnect", () => {
        listening = false;
        clear();
      });
      let connectedBefore = false;
      sub.events.on("connected", () => {
        clear();
        listening = true;
        // Appends made while the connection was down were not heard: listeners catch up now.
        if (connectedBefore) options.onAppend?.();
        connectedBefore = true;
      });
      sub.events.on("error", () => {
        listening = false;
        clear();
      });
      await sub.connect();
      await sub.listenTo(INVALIDATION_CHANNEL);
      let beating = false;
      const beat = () => {
        if (beating) return; // the previous one is still in flight: a stall shows up as staleness
        beating = true;
        sub
          .notify(INVALIDATION_CHANNEL, { hb: token, sentAt: now() })
          .catch(() => {})
          .finally(() => (beating = false));
      };
      beat();
      heartbeat = setInterval(beat, HEARTBEAT_MS);
      heartbeat.unref();
      // Wait for the first heartbeat so the cache is usable as soon as start() returns.
      const until = Date.now() + 2_000;
      while (!usable() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    },

    async close() {
      listening = false;
      if (heartbeat) clearInterval(heartbeat);
      clear();
      if (unlisten) await unlisten().catch(() => {});
      if (subscriber) await subscriber.close().catch(() => {});
    },
  };
}
