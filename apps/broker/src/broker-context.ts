import type { Db } from "@link-broker/db";
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { Sealer } from "./crypto/seal.ts";
import type { RateLimiter } from "./plugins/rate-limit.ts";
import type { Scheduler } from "./scheduler.ts";

/**
 * What every module may be given, built once per app by the composition root (app.ts). A module
 * declares the part it uses (`Pick<BrokerContext, "db" | "clock">`).
 */
export interface BrokerContext {
  config: Config;
  db: Db;
  clock: Clock;
  sealer: Sealer;
  log: FastifyBaseLogger;
  /** The one scheduler: every periodic task is registered here. */
  scheduler: Scheduler;
  /** The one rate limiter (windows shared through Postgres). */
  rateLimiter: RateLimiter;
}
