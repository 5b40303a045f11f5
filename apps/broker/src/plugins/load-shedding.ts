import underPressure from "@fastify/under-pressure";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { ServiceUnavailableError } from "../errors.ts";

export interface LoadSheddingOptions {
  /** Mean event-loop delay (ms) over a sample above which requests are refused; 0 turns it off. */
  maxEventLoopDelayMs: number;
  /** V8 heap in use above which requests are refused. */
  maxHeapUsedBytes: number;
  /** Seconds a refused caller is told to wait. */
  retryAfterSeconds?: number;
  /** How often the process is sampled (ms). */
  sampleIntervalMs?: number;
}

type PressureHandler = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => Promise<void> | void;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Set by `exemptFromLoadShedding`: the route answers even while the broker sheds load. */
    pressureHandler?: PressureHandler;
  }
}

/** Route config for health, readiness and metrics: they must answer while the broker sheds load. */
export const exemptFromLoadShedding: { pressureHandler: PressureHandler } = { pressureHandler: () => undefined };

/**
 * Sheds load instead of queueing it: while the event loop lags or the heap is near its limit,
 * every request (except the exempt routes) answers 503 with Retry-After at once, in the route's
 * error shape, so latency stays bounded and the caller backs off.
 */
async function loadShedding(app: FastifyInstance, options: LoadSheddingOptions) {
  const retryAfter = options.retryAfterSeconds ?? 2;
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxHeapUsedBytes: options.maxHeapUsedBytes,
    sampleInterval: options.sampleIntervalMs ?? 1000,
    retryAfter,
    pressureHandler: async () => {
      throw overloaded(retryAfter);
    },
  });
}

export function overloaded(retryAfterSeconds: number): ServiceUnavailableError {
  return new ServiceUnavailableError("The service is busy; retry shortly", "temporarily_unavailable", retryAfterSeconds);
}

export const loadSheddingPlugin = fp(loadShedding, { name: "load-shedding" });
