// RFC 8936 poll: a bank takes its events with POST /events/poll, acknowledging those it has
// processed; an acknowledged event is never returned again. A bank that also registered an
// events_uri may poll too: it gets what push has not delivered yet (an event taken by either
// way is taken), which lets it catch up while its endpoint is down.
import type { Clock } from "../clock.ts";
import type { EventsRepo } from "./events-repo.ts";

export const DEFAULT_MAX_EVENTS = 100;
export const MAX_EVENTS = 1_000;
/** How long a poll without `returnImmediately` waits for an event before answering empty. */
export const LONG_POLL_MS = 10_000;
const RECHECK_MS = 250;

export interface PollRequest {
  ack?: string[];
  setErrs?: Record<string, { err: string; description?: string }>;
  maxEvents?: number;
  returnImmediately?: boolean;
}

export function createPollService(deps: { repo: Pick<EventsRepo, "acknowledge" | "unacknowledged">; clock: Clock; longPollMs?: number }) {
  const { repo, clock, longPollMs = LONG_POLL_MS } = deps;

  async function take(clientId: string, max: number) {
    const rows = await repo.unacknowledged(clientId, max + 1);
    const sets: Record<string, string> = {};
    for (const r of rows.slice(0, max)) sets[r.jti] = r.set;
    return { sets, moreAvailable: rows.length > max };
  }

  return {
    async poll(clientId: string, body: PollRequest, signal?: AbortSignal): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
      const errors: Record<string, string> = {};
      for (const [jti, e] of Object.entries(body.setErrs ?? {})) errors[jti] = e.description ? `${e.err}: ${e.description}` : e.err;
      await repo.acknowledge(clientId, [...new Set([...(body.ack ?? []), ...Object.keys(errors)])], clock.now(), errors);
      const max = body.maxEvents ?? DEFAULT_MAX_EVENTS;
      // maxEvents 0: acknowledge only (RFC 8936 §2.4).
      if (max === 0) return { sets: {}, moreAvailable: (await repo.unacknowledged(clientId, 1)).length > 0 };
      // Long poll unless returnImmediately (RFC 8936 §2.4 default): the request waits until an event exists or the wait ends.
      const until = Date.now() + (body.returnImmediately === true ? 0 : longPollMs);
      for (;;) {
        const answer = await take(clientId, max);
        if (Object.keys(answer.sets).length > 0 || Date.now() >= until || signal?.aborted) return answer;
        await new Promise((r) => setTimeout(r, RECHECK_MS));
      }
    },
  };
}
