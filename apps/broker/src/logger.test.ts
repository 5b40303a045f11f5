import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createLogDestination } from "./logger.ts";

describe("createLogDestination", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("writes every line whole and in order, multi-byte text included, once flushed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-log-"));
    dirs.push(dir);
    const file = join(dir, "broker.log");
    const fd = openSync(file, "a");
    const destination = createLogDestination(fd);
    const log = pino({ level: "info" }, destination);
    // Lines queue up behind the write in flight; some go out on their own, the rest at flushSync.
    for (let i = 0; i < 2000; i++) log.info({ i, who: "Zoë · 銀行 · 🏦" }, "request");
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 2000; i < 4000; i++) log.info({ i, who: "Zoë · 銀行 · 🏦" }, "request");
    destination.flushSync();
    closeSync(fd);

    const lines = readFileSync(file, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as { i: number; who: string; msg: string });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 4000 }, (_, i) => i));
    expect(lines.every((l) => l.who === "Zoë · 銀行 · 🏦" && l.msg === "request")).toBe(true);
  });
});
