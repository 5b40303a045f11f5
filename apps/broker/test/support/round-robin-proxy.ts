import { request as httpRequest, createServer, type Server } from "node:http";

/** Which upstream served which request, in order. */
export interface ProxiedRequest {
  method: string;
  path: string;
  upstream: number;
  status: number;
}

export interface RoundRobinProxy {
  readonly url: string;
  readonly log: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * A load balancer without sticky sessions, as small as it gets: each request (not each
 * connection) goes to the next upstream in turn, so a browser's consecutive requests land on
 * different broker processes.
 */
export async function startRoundRobinProxy(port: number, upstreams: readonly string[]): Promise<RoundRobinProxy> {
  const log: ProxiedRequest[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const upstream = next;
    next = (next + 1) % upstreams.length;
    const target = new URL(req.url ?? "/", upstreams[upstream]);
    const entry: ProxiedRequest = { method: req.method ?? "GET", path: target.pathname, upstream, status: 0 };
    log.push(entry);
    const out = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      entry.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
