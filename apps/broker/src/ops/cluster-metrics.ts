import cluster from "node:cluster";
import { createServer, type Server } from "node:http";
import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * /metrics with BROKER_WORKERS above 1. Each worker answers the supervisor's requests for its
 * registry over the cluster channel (prom-client's AggregatorRegistry); the supervisor serves the
 * sum on METRICS_PORT, so one scrape sees the whole host rather than whichever worker the
 * connection happened to reach.
 */
export function shareWorkerMetrics(registry: Registry): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs the worker's answering listener (prom-client does it nowhere else).
  new AggregatorRegistry();
}

/** In the supervisor: METRICS_PORT answers GET /metrics with every worker's metrics summed. */
export function serveClusterMetrics(host: string, port: number, onError: (err: Error) => void): Server {
  const aggregator = new AggregatorRegistry();
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not_found"}');
      return;
    }
    aggregator.clusterMetrics().then(
      (text) => res.writeHead(200, { "content-type": aggregator.contentType, "cache-control": "no-store" }).end(text),
      () => res.writeHead(503, { "content-type": "application/json", "retry-after": "1" }).end('{"error":"unavailable"}'),
    );
  });
  server.on("error", onError);
  server.listen(port, host);
  return server;
}
