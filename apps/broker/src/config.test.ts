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
});
