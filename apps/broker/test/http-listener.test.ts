import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunningBroker, type RunningBroker } from "./support/oauth.ts";

describe("the broker's HTTP listener", () => {
  let broker: RunningBroker;
  const marks: string[] = [];
  beforeAll(async () => {
    broker = await startRunningBroker({
      setup: (app) => {
        // For /healthz only: it answers within the turn its request was read in.
        app.addHook("onRequest", (request, _reply, done) => {
          if (request.url === "/healthz") setImmediate(() => marks.push("turn ended"));
          done();
        });
        app.addHook("onResponse", (request, _reply, done) => {
          if (request.url === "/healthz") marks.push("answer sent");
          done();
        });
      },
    });
  });
  afterAll(() => broker?.close());

  /** What the broker sends back on one raw connection for `text`, until it closes the connection. */
  async function exchange(text: string): Promise<string> {
    const client = connect(Number(new URL(broker.url).port), "127.0.0.1");
    let got = "";
    client.on("data", (d: Buffer) => (got += d.toString()));
    client.on("error", () => {});
    client.write(text);
    await once(client, "close");
    return got;
  }

  it("writes a turn's answers when the turn has read everything ready (net/write-coalescing.ts)", async () => {
    const res = await fetch(`${broker.url}/healthz`);
    expect(res.status).toBe(200);
    await res.text();
    // Written at once, the answer would be sent (and onResponse run) before the turn ended.
    expect(marks).toEqual(["turn ended", "answer sent"]);
  });

  it("answers pipelined requests on one connection in order, each with its own request id", async () => {
    const paths = ["/healthz", "/ledger/keys.json", "/no-such-path", "/.well-known/oauth-authorization-server"];
    const text = await exchange(paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${i === paths.length - 1 ? "Connection: close\r\n" : ""}\r\n`).join(""));
    // A body has no line end of its own: the next status line follows it directly.
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 404", "HTTP/1.1 200"]);
    expect(new Set(text.match(/x-request-id: [\w-]+/g))).toHaveProperty("size", 4);
    expect(text).toContain(`"issuer":"${broker.url}"`);
  });

  it("answers a malformed request with its 400 before closing the connection", async () => {
    expect(await exchange("NOT HTTP AT ALL\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});
