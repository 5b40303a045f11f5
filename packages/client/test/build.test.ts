// The package as a bank installs it: compiled JavaScript and declarations, no database dependency.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const pkgDir = join(import.meta.dirname, "..");
// Built where it is published from, so its dependencies resolve as in an installed package.
const out = join(pkgDir, "dist");

describe("@link-broker/client build", () => {
  it("compiles to JavaScript and declarations that plain node imports", async () => {
    await run(join(pkgDir, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], { cwd: pkgDir });
    expect(existsSync(join(out, "index.d.ts"))).toBe(true);
    expect(readFileSync(join(out, "index.js"), "utf8")).not.toMatch(/from "\.\/[\w-]+\.ts"/);
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(join(out, "index.js"))}); console.log(Object.keys(m).sort().join(","))`], { cwd: pkgDir });
    expect(stdout.trim().split(",")).toEqual(expect.arrayContaining(["createBrokerClient", "registerClient", "pkce", "BrokerError", "BrokerUnreachableError"]));
  }, 90_000);

  it("publishes the compiled files and depends on no database package", () => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    expect(pkg.publishConfig.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    expect(Object.keys(pkg.dependencies).sort()).toEqual(["openapi-fetch", "openid-client"]);
  });
});
