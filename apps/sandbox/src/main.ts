// `pnpm --filter @link-broker/sandbox start`: the sandbox alone (scripts/start.ts runs it with the broker).
import { loadConfig } from "./config.ts";
import { buildSandbox } from "./app.ts";

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
