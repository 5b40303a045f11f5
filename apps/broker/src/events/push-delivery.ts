// RFC 8935 push: each event's SET is POSTed to the bank's events_uri by a durable job (one per
// event, in the job table), at least once, in ledger order per consent, with the job runner's
// backoff. The SET is the same bytes on every attempt, so the bank dedupes by jti.
import type { Clock } from "../clock.ts";
import type { ClaimedJob } from "../links/job-repo.ts";
import type { OutboundFetch } from "../net/outbound-fetch.ts";
import type { EventsRepo } from "./events-repo.ts";
import type { EventsMetrics } from "./events-metrics.ts";

/** RFC 8935 §2.2 says 202; 200 and 204 also mean the bank took the SET. */
const ACCEPTED = new Set([200, 202, 204]);

/** An event waits while an earlier one of its consent is undelivered (it is run again when that one is). */
export class WaitingForEarlierEvent extends Error {
  constructor(jti: string) {
    super(`waiting for the earlier event ${jti} of the same consent`);
    this.name = "WaitingForEarlierEvent";
  }
}

export interface PushDeps {
  repo: Pick<EventsRepo, "findForPush" | "deliveredThenNext" | "nextPending" | "setPush" | "noteError">;
  eventsUriOf(clientId: string): Promise<string | null>;
  fetch: OutboundFetch;
  clock: Clock;
  metrics: EventsMetrics;
  /** The job runner's last attempt: after it, the event is marked failed (polling still gets it). */
  maxAttempts: number;
  /** Runs the next event of the consent at once (its job may be waiting on this one). */
  runNext(jti: string): void;
}

export function createPushDelivery(deps: PushDeps) {
  const { repo, clock, metrics } = deps;

  async function settle(event: { jti: string; consentId: string; clientId: string; position: bigint }) {
    const next = await repo.nextPending(event);
    if (next) deps.runNext(next.jti);
  }

  /** The job handler of `events.push`: throws to retry later. */
  async function deliver(job: ClaimedJob): Promise<void> {
    const { jti } = job.payload as { jti: string };
    const event = await repo.findForPush(jti);
    // Acknowledged by poll, delivered by an earlier attempt, or purged: nothing left to do.
    if (event?.push !== "pending" || event.ackedAt) return;
    const uri = await deps.eventsUriOf(event.clientId);
    if (!uri) {
      await repo.setPush(jti, "none", clock.now(), "the client has no events_uri any more");
      return settle(event);
    }
    if (event.earlier) throw new WaitingForEarlierEvent(event.earlier);

    let failure: string;
    try {
      const res = await deps.fetch(uri, { method: "POST", headers: { "content-type": "application/secevent+jwt", accept: "application/json" }, body: event.set });
      if (ACCEPTED.has(res.status)) {
        const next = await repo.deliveredThenNext(event, clock.now());
        metrics.delivered.inc();
        metrics.latency.observe((clock.now().getTime() - event.createdAt.getTime()) / 1000);
        if (next) deps.runNext(next);
        return;
      }
      const text = await res.text().catch(() => "");
      if (res.status === 400) {
        // RFC 8935 §2.3: the bank read the SET and refuses it ({err, description}); sending the
        // same bytes again cannot help. It stays pollable; later events go on.
        const refusal = refusalOf(text);
        await repo.setPush(jti, "failed", clock.now(), `refused: ${refusal}`);
        metrics.failed.inc({ reason: "refused" });
        return settle(event);
      }
      failure = `events_uri answered ${res.status}`;
    } catch (err) {
      failure = `events_uri unreachable: ${(err as Error).message}`;
    }
    metrics.failed.inc({ reason: "retry" });
    if (job.attempts >= deps.maxAttempts) {
      await repo.setPush(jti, "failed", clock.now(), `gave up after ${job.attempts} attempts: ${failure}`);
      await settle(event);
    } else {
      await repo.noteError(jti, failure);
    }
    throw new Error(failure);
  }

  return { deliver };
}

function refusalOf(text: string): string {
  try {
    const body = JSON.parse(text) as { err?: unknown; description?: unknown };
    if (typeof body.err === "string") return typeof body.description === "string" ? `${body.err}: ${body.description}`.slice(0, 300) : body.err.slice(0, 100);
  } catch {}
  return "400 without an RFC 8935 error";
}
