import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { migrationStatus, type Db } from "@link-broker/db";
import type { preHandlerHookHandler } from "fastify";
import type { Registry } from "prom-client";
import { Type } from "typebox";
import type { MasterKeyStatus } from "../master-key/master-key-check.ts";
import { exemptFromLoadShedding } from "../plugins/load-shedding.ts";
import { constantEquals } from "../crypto/constant-equals.ts";
import { NotFoundError, UnauthorizedError } from "../errors.ts";

export interface OpsDeps {
  db: Pick<Db, "prisma" | "kind">;
  registry: Registry;
  /** Per-start id answered by /healthz. */
  instanceId: string;
  /** Whether the master key opens the sealed values (start-up already refused a wrong one). */
  checkMasterKey?: () => Promise<MasterKeyStatus>;
  /**
   * Who may read /metrics on this listener: anyone (development, or the operations listener),
   * the holder of a bearer token, or nobody (it is served on METRICS_PORT instead).
   */
  metrics: { access: "open" } | { access: "token"; token: string } | { access: "off" };
}

const ErrorReply = Type.Object({ error: Type.String(), message: Type.String(), request_id: Type.String() });

/** The /metrics route alone, for the operations listener on METRICS_PORT. */
export const metricsRoute: FastifyPluginAsyncTypebox<Pick<OpsDeps, "registry" | "metrics">> = async (app, { registry, metrics }) => {
  const guard: preHandlerHookHandler = (request, _reply, done) => {
    if (metrics.access === "off") return done(new NotFoundError(`No route GET /metrics`));
    if (metrics.access === "token") {
      const header = request.headers.authorization ?? "";
      const given = /^bearer /i.test(header) ? header.slice(7).trim() : "";
      if (!given || !constantEquals(given, metrics.token)) {
        const e = new UnauthorizedError("/metrics needs its bearer token");
        e.headers["www-authenticate"] = 'Bearer realm="metrics"';
        return done(e);
      }
    }
    done();
  };
  app.get(
    "/metrics",
    {
      schema: { tags: ["operations"], summary: "Prometheus metrics (operations listener, or a bearer token)", response: { 200: Type.String(), 401: ErrorReply, 404: ErrorReply } },
      config: { disableMetrics: true, ...exemptFromLoadShedding },
      preHandler: guard,
    },
    async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  );
};

const Health = Type.Object({ status: Type.String(), instance: Type.String({ description: "Per-start id of this broker (BROKER_INSTANCE_ID)" }) });
const Ready = Type.Object({
  status: Type.String(),
  database: Type.String(),
  pending_migrations: Type.Array(Type.String()),
  master_key: Type.Optional(Type.String({ description: "ok, unknown_key or not_authentic" })),
});

/** Liveness, readiness (database answers, migrations applied, master key right) and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsDeps> = async (app, { db, registry, metrics, instanceId, checkMasterKey }) => {
  app.get("/healthz", { config: exemptFromLoadShedding, schema: { tags: ["operations"], summary: "Liveness", response: { 200: Health } } }, async () => ({
    status: "ok",
    instance: instanceId,
  }));

  app.get(
    "/readyz",
    { config: exemptFromLoadShedding, schema: { tags: ["operations"], summary: "Readiness: database reachable, migrations applied, master key opens the sealed values", response: { 200: Ready, 503: Ready } } },
    async (request, reply) => {
      try {
        const { pending } = await migrationStatus(db);
        if (pending.length > 0) return reply.status(503).send({ status: "not_ready", database: db.kind, pending_migrations: pending });
        const key = checkMasterKey ? await checkMasterKey() : { ok: true as const };
        if (!key.ok) return reply.status(503).send({ status: "not_ready", database: db.kind, pending_migrations: [], master_key: key.reason });
        return { status: "ready", database: db.kind, pending_migrations: [], master_key: "ok" };
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, "readiness check failed");
        return reply.status(503).header("retry-after", "5").send({ status: "database_unreachable", database: db.kind, pending_migrations: [] });
      }
    },
  );

  await app.register(metricsRoute, { registry, metrics });
};
