import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createWriteCoalescer } from "./write-coalescing.ts";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A loopback TCP server whose accepted sockets are coalesced and handed to `onSocket`. */
async function listen(onSocket: (socket: Socket) => void): Promise<number> {
  const coalesce = createWriteCoalescer();
  const server = createServer((socket) => {
    coalesce(socket);
    onSocket(socket);
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Everything a peer receives, having sent `text` if given, until the server closes the connection. */
async function received(port: number, text?: string): Promise<Buffer> {
  const client = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  client.on("data", (d: Buffer) => chunks.push(d));
  client.on("error", () => {});
  if (text !== undefined) client.write(text);
  await once(client, "close");
  return Buffer.concat(chunks);
}

describe("write coalescing", () => {
  it("holds a turn's writes until the event loop has handled what it read, then sends them in order", async () => {
    const events: string[] = [];
    const port = await listen((socket) => {
      socket.write("a", () => events.push("written a"));
      socket.write("b", () => events.push("written b"));
      process.nextTick(() => events.push("tick"));
      queueMicrotask(() => events.push("microtask"));
      setImmediate(() => {
        events.push("next immediate");
        socket.end();
      });
    });
    expect((await received(port)).toString()).toBe("ab");
    // Without coalescing, "a" would be written within write(), before the tick and the microtask.
    // Both writes go out in one flush: "b", released by "a"'s callback, does not wait a turn more.
    expect(events).toEqual(["tick", "microtask", "written a", "written b", "next immediate"]);
  });

  it("sends each connection's writes of one turn to its own peer", async () => {
    const waiting: Socket[] = [];
    const port = await listen((socket) => {
      waiting.push(socket);
      if (waiting.length < 20) return;
      // All twenty written in one turn, each its own text.
      for (const [i, s] of waiting.entries()) s.end(`peer ${i}`);
    });
    const peers = Array.from({ length: 20 }, () => received(port));
    const texts = (await Promise.all(peers)).map((b) => b.toString());
    expect(new Set(texts)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `peer ${i}`)));
  });

  it("keeps order and backpressure for a large stream: the peer gets every byte, 'finish' comes after the last", async () => {
    const body = randomBytes(4 * 1024 * 1024);
    let finished = false;
    let waitedForDrain = false;
    const port = await listen(async (socket) => {
      socket.on("finish", () => (finished = true));
      for (let at = 0; at < body.length; at += 64 * 1024) {
        if (!socket.write(body.subarray(at, at + 64 * 1024))) {
          waitedForDrain = true;
          await once(socket, "drain");
        }
      }
      socket.end();
    });
    const got = await received(port);
    expect(got.length).toBe(body.length);
    expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(body).digest("hex"));
    expect(waitedForDrain).toBe(true);
    expect(finished).toBe(true);
  });

  it("a socket destroyed with a write waiting sends it first, as it would have been sent already", async () => {
    let callback: Error | null | undefined | "not called" = "not called";
    const port = await listen((socket) => {
      // What Node and Fastify do with a malformed request: write the 400, then destroy the socket.
      socket.write("HTTP/1.1 400 Bad Request\r\n\r\n", (error) => (callback = error));
      socket.destroy();
    });
    expect((await received(port)).toString()).toBe("HTTP/1.1 400 Bad Request\r\n\r\n");
    expect([null, undefined]).toContain(callback); // called, without an error
  });

  it("an exception thrown by what a write's callback runs is still the process's, and the turn's other writes go out", async () => {
    const script = `
      const { createServer, connect } = require("node:net");
      import(${JSON.stringify(new URL("./write-coalescing.ts", import.meta.url).href)}).then(({ createWriteCoalescer }) => {
        const coalesce = createWriteCoalescer();
        const sockets = [];
        const server = createServer((socket) => {
          coalesce(socket);
          sockets.push(socket);
          if (sockets.length < 2) return;
          sockets[0].write("first", () => { throw new Error("listener bug"); });
          sockets[1].end("second");
        }).listen(0, "127.0.0.1", () => {
          const port = server.address().port;
          let got = "";
          process.on("uncaughtException", (error) => { console.log("uncaught: " + error.message); });
          const a = connect(port, "127.0.0.1");
          const b = connect(port, "127.0.0.1");
          a.on("data", (d) => (got += d));
          b.on("data", (d) => (got += d));
          b.on("end", () => { console.log("peers got: " + got); process.exit(0); });
        });
      });`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(out).toContain("uncaught: listener bug");
    expect(out).toMatch(/peers got: (firstsecond|secondfirst)/);
  });

  it("an HTTP server with it still delivers the 400 for a malformed request, and a finished answer when it closes", async () => {
    const coalesce = createWriteCoalescer();
    const server = createHttpServer((_req, res) => {
      res.end("last answer");
      // Closing in the same turn, once the request is read: server.close() destroys the idle
      // connections whose answer is finished, as a shutdown landing then would.
      process.nextTick(() => server.close());
    });
    server.on("connection", coalesce);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    expect((await received(port, "NOT HTTP AT ALL\r\n\r\n")).toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const answer = (await received(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).toString();
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toContain("last answer");
  });

  it("an HTTP server with it answers pipelined requests on one connection in order", async () => {
    const coalesce = createWriteCoalescer();
    const server = createHttpServer((req, res) => {
      // The second answer is ready before the first: HTTP/1.1 still sends them in request order.
      const delay = req.url === "/1" ? 20 : 0;
      setTimeout(() => res.end(`answer to ${req.url}`), delay);
    });
    server.on("connection", coalesce);
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const requests = ["/1", "/2", "/3"].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${p === "/3" ? "Connection: close\r\n" : ""}\r\n`).join("");
    const text = (await received((server.address() as AddressInfo).port, requests)).toString();
    const bodies = text.match(/answer to \/\d/g);
    expect(bodies).toEqual(["answer to /1", "answer to /2", "answer to /3"]);
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
  });
});
