// The compliance console as one module: staff identity and sessions, the staff audit log, and the
// /console pages. Built from the services it is given (ledger, links, OAuth clients, TOTP).
import type { ConsentLedger } from "@link-broker/consent-ledger";
import type { Db } from "@link-broker/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Sealer } from "../crypto/seal.ts";
import { createTotpRepo } from "../linking/totp-repo.ts";
import { createTotpService } from "../linking/totp-service.ts";
import type { ResetSecondFactorInput, ResetSecondFactorResult } from "../linking/reset-second-factor.ts";
import type { LinksService } from "../links/links-service.ts";
import { createConsoleRepo } from "./console-repo.ts";
import { consoleRoutes } from "./console-routes.ts";
import { createConsoleService, type ConsoleClients, type ConsoleServiceDeps, type StaffActor } from "./console-service.ts";
import { consoleCookies, createConsoleCsrf, readCookie } from "./console-session.ts";
import { createStaffAuditRepo, createStaffRepo, createStaffSessionRepo } from "./staff-repo.ts";
import { createStaffService } from "./staff-service.ts";

export interface ConsoleModuleDeps {
  config: Pick<Config, "masterKey" | "production" | "publicUrl">;
  db: Db;
  clock: Clock;
  sealer: Sealer;
  ledger: Pick<ConsentLedger, "get" | "receipt" | "verify" | "withdraw">;
  links: Pick<LinksService, "unlink">;
  clients: ConsoleClients;
  events: ConsoleServiceDeps["events"];
  /** The linking module's reset of a customer's second factor (admin, from the customer page). */
  resetSecondFactor: (input: ResetSecondFactorInput) => Promise<ResetSecondFactorResult>;
}

export function createConsoleModule(deps: ConsoleModuleDeps) {
  const { config, db, clock, sealer } = deps;
  const sessions = createStaffSessionRepo(db);
  const staff = createStaffService({ staff: createStaffRepo(db), sessions, totp: createTotpService({ repo: createTotpRepo(db), sealer, clock }), clock });
  const service = createConsoleService({ repo: createConsoleRepo(db), audit: createStaffAuditRepo(db), ledger: deps.ledger, links: deps.links, clients: deps.clients, events: deps.events, resetSecondFactor: deps.resetSecondFactor, clock });
  const cookies = consoleCookies(config.production);
  const csrf = createConsoleCsrf(config.masterKey.key);

  /**
   * The staff member behind a request's session cookie (complete sign-in only), for the
   * `/ledger/*` read routes; each such read is recorded in the staff audit log.
   */
  async function staffOfRequest(request: FastifyRequest): Promise<StaffActor | undefined> {
    const session = await staff.authenticate(readCookie(request, cookies.session));
    if (!session?.complete || session.staff.passwordChangeRequired) return undefined;
    const actor = { staff: session.staff, requestId: request.id, ip: request.ip };
    await service.record(actor, request.url.startsWith("/ledger/export") ? "export" : request.url.startsWith("/ledger/verify") ? "verify" : "view", request.url.split("?")[0]!.slice(0, 300), { via: "ledger_api" });
    return actor;
  }

  return {
    services: { staff, console: service, staffOfRequest },
    routes: async (app: FastifyInstance) => {
      await app.register(consoleRoutes, { staff, console: service, csrf, cookies, issuer: new URL(config.publicUrl).host, clock });
    },
  };
}
