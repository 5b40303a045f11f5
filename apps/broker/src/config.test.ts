import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const KEY = Buffer.alloc(32, 7).toString("base64");
const tmp = () => mkdtempSync(join(tmpdir(), "lb-config-"));

function configError(env: Record<string, string>, dataDir = tmp()): ConfigError {
  try {
    loadConfig(env, { dataDir });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies DESIGN.md defaults and freezes the result", () => {
    const config = loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(3000);
    expect(config.publicUrl).toBe("http://localhost:3000");
    expect(config.databaseUrl).toBeUndefined();
    expect(config.messengerGraphUrl).toBe("https://graph.facebook.com/v23.0");
    expect(config.messengerRedirectAllowlist).toEqual(["https://www.facebook.com/messenger_platform/account_linking"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("generates the development master key once and reuses it, with a warning", () => {
    const dataDir = tmp();
    const warnings: string[] = [];
    const a = loadConfig({}, { dataDir, warn: (m) => warnings.push(m) });
    const b = loadConfig({}, { dataDir });
    expect(a.masterKey.key.equals(b.masterKey.key)).toBe(true);
    expect(Buffer.from(readFileSync(join(dataDir, "master.key"), "utf8").trim(), "base64")).toHaveLength(32);
    expect(warnings.join("\n")).toMatch(/BROKER_MASTER_KEY is not set/);
  });

  it("names the variable in one line for bad values", () => {
    expect(configError({ PORT: "eighty" }).variable).toBe("PORT");
    expect(configError({ PORT: "70000" }).variable).toBe("PORT");
    expect(configError({ BROKER_MASTER_KEY: "short" }).message).toMatch(/^BROKER_MASTER_KEY: must be 32 bytes/);
    expect(configError({ BROKER_MASTER_KEY: KEY, DATABASE_URL: "mysql://x" }).variable).toBe("DATABASE_URL");
    expect(configError({ BROKER_MASTER_KEY: KEY, DATABASE_URL: "not a url" }).message).not.toContain("\n");
    expect(configError({ BROKER_MASTER_KEY: KEY, MESSENGER_GRAPH_URL: "http://graph.example.com" }).variable).toBe("MESSENGER_GRAPH_URL");
  });

  it("reads the rotation, load-shedding and instance variables", () => {
    const old = Buffer.alloc(32, 9).toString("base64");
    const config = loadConfig({ BROKER_MASTER_KEY: KEY, BROKER_MASTER_KEY_PREVIOUS: `${old},${KEY}`, BROKER_MAX_EVENT_LOOP_DELAY_MS: "200", BROKER_MAX_HEAP_USED_MB: "512", BROKER_INSTANCE_ID: "start-1234" }, { dataDir: tmp() });
    // The current key is not its own previous key.
    expect(config.previousMasterKeys.map((k) => k.key.toString("base64"))).toEqual([old]);
    expect(config.loadShedding).toEqual({ maxEventLoopDelayMs: 200, maxHeapUsedBytes: 512 * 1024 * 1024 });
    expect(config.instanceId).toBe("start-1234");
    // Event-loop shedding is on by default in production only.
    expect(loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).loadShedding.maxEventLoopDelayMs).toBe(0);
    const prod = { NODE_ENV: "production", DATABASE_URL: "postgres://u@db/x", BROKER_REGISTRATION_TOKEN: "r".repeat(43), PUBLIC_URL: "https://broker.example", BROKER_MASTER_KEY: KEY };
    expect(loadConfig(prod, { dataDir: tmp() }).loadShedding.maxEventLoopDelayMs).toBe(1000);
    expect(loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).instanceId).not.toBe(loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).instanceId);
    expect(configError({ BROKER_MASTER_KEY: KEY, BROKER_MAX_EVENT_LOOP_DELAY_MS: "soon" }).variable).toBe("BROKER_MAX_EVENT_LOOP_DELAY_MS");
    expect(configError({ BROKER_MASTER_KEY: KEY, BROKER_INSTANCE_ID: "a b" }).variable).toBe("BROKER_INSTANCE_ID");
  });

  it("requires the production secrets and https in production", () => {
    const prod = { NODE_ENV: "production", DATABASE_URL: "postgres://u@db/x", BROKER_REGISTRATION_TOKEN: "r".repeat(43), PUBLIC_URL: "https://broker.example" };
    expect(configError({ ...prod, DATABASE_URL: "" }).variable).toBe("DATABASE_URL");
    expect(configError({ ...prod }).variable).toBe("BROKER_MASTER_KEY");
    expect(configError({ ...prod, BROKER_MASTER_KEY: KEY, PUBLIC_URL: "http://localhost:3000" }).variable).toBe("PUBLIC_URL");
    expect(configError({ ...prod, BROKER_MASTER_KEY: KEY, MESSENGER_REDIRECT_ALLOWLIST: "http://127.0.0.1:4000/x" }).variable).toBe("MESSENGER_REDIRECT_ALLOWLIST");
    expect(loadConfig({ ...prod, BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).production).toBe(true);
    expect(configError({ ...prod, BROKER_MASTER_KEY: KEY, BROKER_OUTBOUND_ALLOWLIST: "127.0.0.1" }).variable).toBe("BROKER_OUTBOUND_ALLOWLIST");
  });

  it("parses the outbound allowlist outside production, empty by default", () => {
    expect(loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).outboundAllowlist).toEqual([]);
    expect(loadConfig({ BROKER_MASTER_KEY: KEY, BROKER_OUTBOUND_ALLOWLIST: "127.0.0.0/8, ::1" }, { dataDir: tmp() }).outboundAllowlist).toHaveLength(2);
    expect(configError({ BROKER_MASTER_KEY: KEY, BROKER_OUTBOUND_ALLOWLIST: "127.0.0.1/99" }).variable).toBe("BROKER_OUTBOUND_ALLOWLIST");
    expect(configError({ BROKER_MASTER_KEY: KEY, BROKER_OUTBOUND_ALLOWLIST: "localhost" }).variable).toBe("BROKER_OUTBOUND_ALLOWLIST");
  });

  it("accepts loopback http outside production", () => {
    const config = loadConfig(
      { BROKER_MASTER_KEY: KEY, MESSENGER_GRAPH_URL: "http://127.0.0.1:4100/graph", MESSENGER_REDIRECT_ALLOWLIST: "http://127.0.0.1:4100/redirect, https://a.example/x" },
      { dataDir: tmp() },
    );
    expect(config.messengerRedirectAllowlist).toEqual(["http://127.0.0.1:4100/redirect", "https://a.example/x"]);
  });

  it("BROKER_TRUST_PROXY: nobody by default, a hop count, or addresses and CIDRs; anything else is refused", () => {
    const load = (v?: string) => loadConfig({ BROKER_MASTER_KEY: KEY, ...(v === undefined ? {} : { BROKER_TRUST_PROXY: v }) }, { dataDir: tmp() }).trustProxy;
    expect(load()).toBe(false);
    expect(load("none")).toBe(false);
    expect(load("2")).toBe(2);
    expect(load("10.0.0.0/8, 192.168.1.1,::1,fd00::/8")).toEqual(["10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"]);
    for (const bad of ["0", "11", "true", "10.0.0.0/33", "::1/129", "proxy.example", "10.0.0.1/8/1", ","]) {
      expect(configError({ BROKER_MASTER_KEY: KEY, BROKER_TRUST_PROXY: bad }).variable).toBe("BROKER_TRUST_PROXY");
    }
  });

  it("METRICS_PORT must differ from PORT; BROKER_DOCS defaults to off in production only", () => {
    expect(configError({ BROKER_MASTER_KEY: KEY, PORT: "3000", METRICS_PORT: "3000" }).variable).toBe("METRICS_PORT");
    expect(configError({ BROKER_MASTER_KEY: KEY, METRICS_TOKEN: "short" }).variable).toBe("METRICS_TOKEN");
    expect(loadConfig({ BROKER_MASTER_KEY: KEY }, { dataDir: tmp() }).docs).toBe(true);
    expect(loadConfig({ BROKER_MASTER_KEY: KEY, BROKER_DOCS: "false" }, { dataDir: tmp() }).docs).toBe(false);
  });
});
