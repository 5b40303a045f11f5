import { describe, expect, it } from "vitest";
import { chromiumPath } from "./chromium.ts";

describe("chromiumPath", () => {
  it("names CHROMIUM_PATH when it points at an executable", () => {
    expect(chromiumPath({ CHROMIUM_PATH: process.execPath })).toBe(process.execPath);
  });

  it("says in one line how to install Chromium or set CHROMIUM_PATH", () => {
    let message = "";
    try {
      chromiumPath({ CHROMIUM_PATH: "/nonexistent/chromium" });
    } catch (err) {
      message = (err as Error).stack ?? "";
    }
    expect(message).toMatch(/^Chromium not found at \/nonexistent\/chromium: .*apt-get install -y chromium.*CHROMIUM_PATH/);
    expect(message).not.toContain("\n");
  });
});
