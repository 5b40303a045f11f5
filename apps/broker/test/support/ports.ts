import { createServer } from "node:net";

/**
 * A free loopback port for a test server that must know its URL before it listens. Chosen at
 * random below the kernel's ephemeral range (32768+), so no outgoing connection or port-0 listen
 * can take it between this check and the server's listen; checked by binding it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free loopback port found");
}
