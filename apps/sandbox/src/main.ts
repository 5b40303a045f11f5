// `pnpm --filter @link-broker/sandbox start`: the sandbox alone (scripts/start.ts runs it with the broker).
import { loadConfig } from "./config.ts";

// oidc-provider 9 warns on Node 20 at import; the project supports Node >= 20.19 and the
// provider works there, so the newcomer's terminal is spared that one line.
const warn = console.warn;
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === "string" && args[0].includes("oidc-provider WARNING: Unsupported runtime")) return;
  warn(...args);
};
const { buildSandbox } = await import("./app.ts");
console.warn = warn;

const config = loadConfig(process.env, process.env.INIT_CWD ?? process.cwd());
const sandbox = await buildSandbox(config);
await sandbox.listen();
if (!process.env.SANDBOX_QUIET) process.stdout.write(`sandbox ready: chat ${config.publicUrl}/ · bank IdP ${config.idpIssuer}\n`);

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  const timer = setTimeout(() => process.exit(0), 5000);
  timer.unref();
  await sandbox.close().catch(() => {});
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
