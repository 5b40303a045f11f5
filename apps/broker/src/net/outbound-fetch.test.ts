import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostileServer, startHostileServer, streamHugeBody } from "../../test/support/hostile-server.ts";
import { parseCidrList } from "./address-policy.ts";
import { createOutboundFetch, MAX_RESPONSE_BYTES, OutboundError, registrantFetch } from "./outbound-fetch.ts";

const MB = 1024 * 1024;

describe("outbound fetch: address check at connect time", () => {
  let v4: HostileServer;
  let v6: HostileServer;
  beforeAll(async () => {
    const json = (_req: unknown, res: import("node:http").ServerResponse) => res.writeHead(200, { "content-type": "application/json" }).end('{"keys":[]}');
    v4 = await startHostileServer("127.0.0.1", json);
    v6 = await startHostileServer("::1", json);
  });
  afterAll(async () => {
    await v4.close();
    await v6.close();
  });

  it("never connects to loopback, by literal or by name, without the allowlist", async () => {
    const guarded = registrantFetch([]);
    const port4 = new URL(v4.url).port;
    const port6 = new URL(v6.url).port;
    for (const url of [`${v4.url}/jwks`, `${v6.url}/jwks`, `http://localhost:${port4}/jwks`, `http://localhost:${port6}/jwks`, `http://[::ffff:127.0.0.1]:${port4}/jwks`]) {
      const err = await guarded(url).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(OutboundError);
      expect((err as OutboundError).kind, url).toBe("refused_address");
    }
    expect(v4.connections).toBe(0);
    expect(v6.connections).toBe(0);
  });

  it("refuses private, link-local, unique-local and unspecified literals without a request", async () => {
    const guarded = registrantFetch([]);
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fd00::1]/", "http://0.0.0.0/", "http://2130706433/", "http://[::]/", "http://100.64.0.1/", "http://[fe80::1]/"]) {
      await expect(guarded(url), url).rejects.toMatchObject({ kind: "refused_address" });
    }
  });

  it("connects to loopback when the allowlist names it, and only the part it names", async () => {
    const only4 = registrantFetch(parseCidrList("127.0.0.0/8"));
    const res = await only4(`${v4.url}/jwks`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ keys: [] });
    await expect(only4(`${v6.url}/jwks`)).rejects.toMatchObject({ kind: "refused_address" });
    expect(v6.connections).toBe(0);
  });
});

describe("outbound fetch: 64 KB cap", () => {
  let huge: HostileServer;
  let declared: HostileServer;
  let small: HostileServer;
  beforeAll(async () => {
    huge = await startHostileServer("127.0.0.1", (_req, res, s) => streamHugeBody(res, 48 * MB, s));
    declared = await startHostileServer("127.0.0.1", (_req, res, s) => streamHugeBody(res, 48 * MB, s, true));
    small = await startHostileServer("127.0.0.1", (_req, res) => res.writeHead(200).end("x".repeat(MAX_RESPONSE_BYTES)));
  });
  afterAll(async () => {
    await huge.close();
    await declared.close();
    await small.close();
  });

  it("refuses a body of several megabytes after 64 KB, and memory stays flat", async () => {
    const outbound = createOutboundFetch({ policy: undefined, failureTtlMs: 0 });
    // A first fetch loads and compiles the HTTP client (about 20 MB of RSS on its own), which is
    // not what this measures.
    await outbound(`${small.url}/jwks`);
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 4; i++) {
      await expect(outbound(`${huge.url}/jwks?${i}`)).rejects.toMatchObject({ kind: "too_large" });
    }
    const grown = process.memoryUsage().rss - before;
    // 4 × 48 MB were offered; reading them would grow RSS by far more than this.
    expect(grown).toBeLessThan(24 * MB);
    // The broker hung up long before the server got through its body.
    expect(huge.bytesSent).toBeLessThan(24 * MB);
  });

  it("refuses a declared oversized body before reading it", async () => {
    const outbound = createOutboundFetch({ failureTtlMs: 0 });
    await expect(outbound(`${declared.url}/jwks`)).rejects.toMatchObject({ kind: "too_large" });
    expect(declared.bytesSent).toBeLessThan(8 * MB);
  });

  it("reads a body of exactly 64 KB", async () => {
    const outbound = createOutboundFetch();
    expect((await (await outbound(`${small.url}/ok`)).text()).length).toBe(MAX_RESPONSE_BYTES);
  });
});

describe("outbound fetch: failures cached briefly", () => {
  let failing: HostileServer;
  beforeAll(async () => {
    failing = await startHostileServer("127.0.0.1", (_req, res) => res.writeHead(500).end("{}"));
  });
  afterAll(() => failing.close());

  it("answers a failed GET again from memory until the failure's time is up", async () => {
    let now = 1_000_000;
    const outbound = createOutboundFetch({ failureTtlMs: 30_000, now: () => now });
    expect((await outbound(`${failing.url}/jwks`)).status).toBe(500);
    await expect(outbound(`${failing.url}/jwks`)).rejects.toMatchObject({ kind: "failed_recently" });
    await expect(outbound(`${failing.url}/jwks`)).rejects.toMatchObject({ kind: "failed_recently" });
    expect(failing.requests).toHaveLength(1);
    now += 30_001;
    expect((await outbound(`${failing.url}/jwks`)).status).toBe(500);
    expect(failing.requests).toHaveLength(2);
  });

  it("remembers a refused address too, and passes a POST's error answer through every time", async () => {
    const guarded = registrantFetch([]);
    await expect(guarded("http://10.0.0.1/")).rejects.toMatchObject({ kind: "refused_address" });
    await expect(guarded("http://10.0.0.1/")).rejects.toMatchObject({ kind: "failed_recently" });
    const outbound = createOutboundFetch();
    expect((await outbound(`${failing.url}/token`, { method: "POST", body: "a=b" })).status).toBe(500);
    expect((await outbound(`${failing.url}/token`, { method: "POST", body: "a=b" })).status).toBe(500);
  });
});
