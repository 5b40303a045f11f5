import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A server a registrant controls, standing in for an internal service (on 127.0.0.1 or ::1):
 * it counts every TCP connection, so a test can tell that the broker never connected at all.
 */
export interface HostileServer {
  url: string;
  connections: number;
  requests: string[];
  /** Bytes the handler managed to write before the broker hung up. */
  bytesSent: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, server: HostileServer) => void;

export async function startHostileServer(host: "127.0.0.1" | "::1", handler: Handler): Promise<HostileServer> {
  let server!: Server;
  const state: HostileServer = {
    url: "",
    connections: 0,
    requests: [],
    bytesSent: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  server = createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    handler(req, res, state);
  });
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return state;
}

/** Streams `total` bytes of JSON-looking filler without holding them, honouring backpressure. */
export function streamHugeBody(res: ServerResponse, total: number, server: HostileServer, declareLength = false): void {
  res.writeHead(200, { "content-type": "application/json", ...(declareLength ? { "content-length": String(total) } : {}) });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const ok = res.write(chunk);
      sent += chunk.length;
      server.bytesSent = sent;
      if (!ok) return void res.once("drain", pump);
    }
    res.end();
  };
  res.on("close", () => res.removeAllListeners("drain"));
  pump();
}
