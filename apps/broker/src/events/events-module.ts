// Consent events for banks (DESIGN.md "Consent events"): Security Event Tokens (RFC 8417) made
// from the ledger, pushed to a bank's events_uri (RFC 8935) or polled (RFC 8936).
//
//   ledger append ──NOTIFY──▶ collect (seq cursor) ──▶ consent_event + events.push job (one tx)
//                                                        │
//   expiry scan (scheduler) ─────────────────────────────┤
//                                                        ▼
//                     push job ──POST SET──▶ events_uri (202) ; retried with backoff
//                     POST /events/poll ◀── bank (ack: [jti...])
import type { ConsentLedger } from "@link-broker/consent-ledger";
import type { FastifyPluginAsync, preHandlerHookHandler } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import { createJobRepo } from "../links/job-repo.ts";
import { createJobRunner } from "../links/job-runner.ts";
import { registrantFetch, type OutboundFetch } from "../net/outbound-fetch.ts";
import type { ClientRow } from "../oauth/clients/client-repo.ts";
import { createEventCollector } from "./event-collector.ts";
import { eventsRoutes } from "./events-routes.ts";
import { createEventsMetrics } from "./events-metrics.ts";
import { createEventsRepo, PUSH_JOB_KIND, pushJobId, type NewEvent } from "./events-repo.ts";
import { createPollService } from "./poll-service.ts";
import { createPushDelivery, WaitingForEarlierEvent } from "./push-delivery.ts";
import { createPushKick } from "./push-kick.ts";

/** Catch-up read of the ledger, should a notification be missed (wake-ups do the prompt work). */
export const COLLECT_INTERVAL_MS = 1_000;
/** Due push retries. */
export const PUSH_INTERVAL_MS = 2_000;
/** The consent.expiring scan, and the purge of old events. */
export const EXPIRING_INTERVAL_MS = 60_000;
/** First and longest pause before collecting again after a failed collection. */
const COLLECT_RETRY_MS = 100;
const COLLECT_RETRY_MAX_MS = 5_000;
const MAX_ATTEMPTS = 12;
const KICK_TRIES = 40;
const PUSH_CONCURRENCY = 16;
const KICK_PAUSE_MS = 50;
const DAY_MS = 86_400_000;

export interface EventsModuleDeps extends Pick<BrokerContext, "config" | "db" | "clock" | "log" | "scheduler" | "rateLimiter"> {
  ledger: Pick<ConsentLedger, "entriesAfter" | "expiringBetween" | "onAppend">;
  /** The broker's access-token signer (its keys are at /jwks.json). */
  signer: { sign(payload: Record<string, unknown>, options: { typ: string }): Promise<string> };
  clients: { get(id: string): Promise<ClientRow | null> };
  /** The fetch for events_uri (default: the registrant fetch, address-checked). */
  fetch?: OutboundFetch;
}

export function createEventsModule(deps: EventsModuleDeps) {
  const { config, db, clock, log, scheduler, ledger } = deps;
  const repo = createEventsRepo(db);
  const jobs = createJobRepo(db);
  // A failed POST is tried again on the job's backoff, never answered from a failure cache.
  const ownFetch = deps.fetch ? undefined : registrantFetch(config.outboundAllowlist, { failureTtlMs: 0, timeoutMs: 5_000 });
  const fetch: OutboundFetch = deps.fetch ?? ownFetch!;
  const metrics = createEventsMetrics(async () => (await repo.pendingStats()).pending);
  const eventsUriOf = async (clientId: string) => (await deps.clients.get(clientId))?.eventsUri ?? null;

  const collector = createEventCollector({ repo, ledger, signer: deps.signer, pushes: async (id) => (await eventsUriOf(id)) !== null, clock, issuer: config.publicUrl, expiringDays: config.eventsExpiringDays });
  // Pushes started outside the scheduler: at most PUSH_CONCURRENCY at once (a burst of events
  // must not take every database connection), the rest queued; awaited on close.
  const queue: string[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const kick = createPushKick({ runOne: (id) => runner.runOne(id), find: jobs.find, closed: () => closed, tries: KICK_TRIES, pauseMs: KICK_PAUSE_MS });
  function drain() {
    while (!closed && inFlight.size < PUSH_CONCURRENCY && queue.length) {
      const jti = queue.shift()!;
      const run = kick(pushJobId(jti)).catch((err) => log.warn({ err, jti }, "event push failed to start"));
      inFlight.add(run);
      void run.finally(() => {
        inFlight.delete(run);
        drain();
      });
    }
  }
  const runNext = (jti: string) => {
    queue.push(jti);
    drain();
  };
  const push = createPushDelivery({ repo, eventsUriOf, fetch, clock, metrics, maxAttempts: MAX_ATTEMPTS, runNext });
  const runner = createJobRunner({
    repo: jobs,
    clock,
    handlers: { [PUSH_JOB_KIND]: push.deliver },
    maxAttempts: MAX_ATTEMPTS,
    onLeaseLost: (job) => log.warn({ job: job.id }, "event push lease ran out before it finished; the bank may get the SET twice"),
    onError: (job, err) => {
      if (!(err instanceof WaitingForEarlierEvent)) log.warn({ job: job.id, attempts: job.attempts, err: (err as Error).message }, "event push failed; will retry");
    },
  });
  const poll = createPollService({ repo, clock });

  /** Pushes what was just made at once: the first new event of each consent (the rest follow it). */
  function pushNow(events: NewEvent[]) {
    const first = new Map<string, string>();
    for (const e of events) if (e.push === "pending" && !first.has(e.consentId)) first.set(e.consentId, e.jti);
    for (const jti of first.values()) runNext(jti);
  }

  // One collection at a time per process; a wake-up during one runs another right after.
  let collecting: Promise<void> | undefined;
  let again = false;
  function collectNow(): Promise<void> {
    if (collecting) {
      again = true;
      return collecting;
    }
    collecting = (async () => {
      try {
        do {
          again = false;
          pushNow(await collector.collect());
        } while (again);
      } finally {
        collecting = undefined;
      }
    })();
    return collecting;
  }
  // A failed collection is tried again on its own, with backoff, so an event never waits for the
  // next append or the catch-up run; one warning per run of failures.
  let retryMs = 0;
  let retry: NodeJS.Timeout | undefined;
  const wake = () =>
    void collectNow().then(
      () => (retryMs = 0),
      (err) => {
        if (closed) return;
        if (retryMs === 0) log.warn({ err }, "collecting consent events failed; retrying");
        retryMs = Math.min(retryMs * 2 || COLLECT_RETRY_MS, COLLECT_RETRY_MAX_MS);
        if (retry) return;
        retry = setTimeout(() => {
          retry = undefined;
          wake();
        }, retryMs);
        retry.unref();
      },
    );
  const unsubscribe = ledger.onAppend(wake);

  const retentionMs = Math.max(30, config.eventsExpiringDays + 7) * DAY_MS;
  scheduler.every("events.collect", COLLECT_INTERVAL_MS, collectNow);
  scheduler.every("events.push", PUSH_INTERVAL_MS, () => runner.runDue());
  scheduler.every("events.expiring", EXPIRING_INTERVAL_MS, async () => {
    pushNow(await collector.scanExpiring());
    // Events are kept past any expiring window (a consent.expiring is purged only after its
    // consent's expiry), so a purge never lets one be made twice.
    await repo.purgeOlderThan(new Date(clock.now().getTime() - retentionMs), 1_000);
  });

  const routes: FastifyPluginAsync<{ clientAuth: preHandlerHookHandler }> = async (app, { clientAuth }) => {
    await app.register(eventsRoutes, { clientAuth, poll, rateLimiter: deps.rateLimiter, limits: config.rateLimits.events_poll });
  };
  return {
    /** Reads the ledger up to its head now (tests, benchmarks). */
    collect: collectNow,
    /** Each consent's events and their delivery state (the console). */
    ofConsent: repo.ofConsent,
    metrics: metrics.all,
    routes,
    close: async () => {
      closed = true;
      unsubscribe();
      clearTimeout(retry);
      await collecting?.catch(() => {});
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      await ownFetch?.close();
    },
  };
}
