import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import { argsErrorLine, joinDashValues } from "./cli-command.ts";

const options = { "client-id": { type: "string" }, clear: { type: "boolean" }, set: { type: "string" } } as const;
const parse = (args: string[]) => parseArgs({ args: joinDashValues(args, options), options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values;

describe("joinDashValues", () => {
  it("lets a string option's value start with a dash, as a client id may", () => {
    expect(parse(["--client-id", "-HJYVb6zpUUm95vlGI-Hez92", "--clear"])).toEqual({ "client-id": "-HJYVb6zpUUm95vlGI-Hez92", clear: true });
    expect(parse(["--set", "{}", "--client-id", "-abc"])).toEqual({ set: "{}", "client-id": "-abc" });
  });

  it("leaves everything else to parseArgs: a missing value, -h, --name=value and boolean options", () => {
    expect(() => parse(["--client-id", "--clear"])).toThrow(/argument is ambiguous/);
    expect(() => parse(["--client-id", "-h"])).toThrow(/argument is ambiguous/);
    expect(parse(["--client-id=-abc"])).toEqual({ "client-id": "-abc" });
    expect(() => parse(["--clear", "-abc"])).toThrow();
    expect(joinDashValues(["--client-id", "x", "--clear"], options)).toEqual(["--client-id", "x", "--clear"]);
  });
});

describe("argsErrorLine", () => {
  const messageOf = (args: string[]) => {
    try {
      parse(args);
    } catch (err) {
      return argsErrorLine((err as Error).message);
    }
    throw new Error("parsed");
  };

  it("says that an option needs a value, and how to give one that starts with a dash, on one line", () => {
    expect(messageOf(["--client-id", "--clear"])).toBe("--client-id needs a value (one that starts with a dash is written --client-id=VALUE)");
  });

  it("keeps parseArgs's first line otherwise, without its note on positionals", () => {
    expect(messageOf(["--fromat", "csv"])).toBe("Unknown option '--fromat'");
    expect(messageOf(["--client-id"])).toMatch(/^Option '--client-id <value>' argument missing$/);
  });
});
