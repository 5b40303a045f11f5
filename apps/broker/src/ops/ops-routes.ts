import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { migrationStatus, type Db } from "@link-broker/db";
import type { Registry } from "prom-client";
import { Type } from "typebox";
import type { MasterKeyStatus } from "../master-key/master-key-check.ts";
import { exemptFromLoadShedding } from "../plugins/load-shedding.ts";

export interface OpsDeps {
  db: Pick<Db, "prisma" | "kind">;
  registry: Registry;
  /** Per-start id answered by /healthz. */
  instanceId: string;
  /** Whether the master key opens the sealed values (start-up already refused a wrong one). */
  checkMasterKey?: () => Promise<MasterKeyStatus>;
}

const Health = Type.Object({ status: Type.String(), instance: Type.String({ description: "Per-start id of this broker (BROKER_INSTANCE_ID)" }) });
const Ready = Type.Object({
  status: Type.String(),
  database: Type.String(),
  pending_migrations: Type.Array(Type.String()),
  master_key: Type.Optional(Type.String({ description: "ok, unknown_key or not_authentic" })),
});

/** Liveness, readiness (database answers, migrations applied, master key right) and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsDeps> = async (app, { db, registry, instanceId, checkMasterKey }) => {
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

  app.get(
    "/metrics",
    { schema: { tags: ["operations"], summary: "Prometheus metrics", response: { 200: Type.String() } }, config: { disableMetrics: true, ...exemptFromLoadShedding } },
    async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  );
};
