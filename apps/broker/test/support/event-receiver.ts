import { createServer, type Server } from "node:http";
import { decodeJwt } from "jose";
import { freePort } from "./ports.ts";

export interface ReceivedSet {
  jti: string;
  type: string;
  event: Record<string, unknown>;
  set: string;
  contentType: string | undefined;
  /** What the endpoint answered. */
  status: number;
  at: number;
}

/**
 * A bank's RFC 8935 endpoint on loopback: records every SET POSTed to it and answers with the
 * next status of `answers` (202 once they run out). `unique()` is what a bank keeps after
 * deduplicating by jti.
 */
export async function startEventReceiver() {
  const port = await freePort();
  const received: ReceivedSet[] = [];
  const answers: number[] = [];
  const waiters: (() => void)[] = [];
  // While held, a SET is recorded on arrival and answered only on release.
  let held: Promise<void> | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const set = Buffer.concat(chunks).toString("utf8");
      const status = answers.shift() ?? 202;
      try {
        const claims = decodeJwt(set) as { jti: string; events: Record<string, Record<string, unknown>> };
        const [type, event] = Object.entries(claims.events)[0]!;
        received.push({ jti: claims.jti, type, event, set, contentType: req.headers["content-type"], status, at: performance.now() });
      } catch {}
      await held;
      res.writeHead(status, { "content-type": "application/json" }).end(status === 400 ? JSON.stringify({ err: "invalid_request", description: "refused by the test bank" }) : "");
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    answers,
    /** Holds the answers to what arrives from now on until the returned release is called. */
    hold(): () => void {
      let release!: () => void;
      held = new Promise<void>((resolve) => (release = resolve));
      return () => {
        held = undefined;
        release();
      };
    },
    /** First arrivals only, in arrival order (a bank dedupes by jti). */
    unique(): ReceivedSet[] {
      const seen = new Set<string>();
      return received.filter((r) => !seen.has(r.jti) && seen.add(r.jti));
    },
    /** Resolves once `predicate` holds over what arrived (checked on each arrival), or rejects after `ms`. */
    async until(predicate: () => boolean, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`event receiver: condition not met after ${ms} ms (received ${received.map((r) => r.type).join(", ")})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
