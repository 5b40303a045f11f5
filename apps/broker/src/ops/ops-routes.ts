import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { migrationStatus, type Db } from "@link-broker/db";
import type { Registry } from "prom-client";
import { Type } from "typebox";

export interface OpsDeps {
  db: Pick<Db, "prisma" | "kind">;
  registry: Registry;
}

const Health = Type.Object({ status: Type.String() });
const Ready = Type.Object({
  status: Type.String(),
  database: Type.String(),
  pending_migrations: Type.Array(Type.String()),
});

/** Liveness, readiness (database answers, migrations applied) and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsDeps> = async (app, { db, registry }) => {
  app.get("/healthz", { schema: { tags: ["operations"], summary: "Liveness", response: { 200: Health } } }, async () => ({
    status: "ok",
  }));

  app.get(
    "/readyz",
    { schema: { tags: ["operations"], summary: "Readiness: database reachable and migrations applied", response: { 200: Ready, 503: Ready } } },
    async (request, reply) => {
      try {
        const { pending } = await migrationStatus(db);
        if (pending.length > 0) return reply.status(503).send({ status: "not_ready", database: db.kind, pending_migrations: pending });
        return { status: "ready", database: db.kind, pending_migrations: [] };
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, "readiness check failed");
        return reply.status(503).send({ status: "database_unreachable", database: db.kind, pending_migrations: [] });
      }
    },
  );

  app.get(
    "/metrics",
    { schema: { tags: ["operations"], summary: "Prometheus metrics", response: { 200: Type.String() } }, config: { disableMetrics: true } },
    async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  );
};
