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
try {
  await sandbox.listen();
} catch (err) {
  // One line naming the variable to change, never a stack trace.
  const { code, port } = err as { code?: string; port?: number };
  const variable = port === config.idpPort ? "SANDBOX_IDP_PORT" : "SANDBOX_PORT";
  const which = port ?? config.port;
  const why = code === "EADDRINUSE" ? "is already in use by another process" : `cannot be used (${code ?? (err as Error).message})`;
  process.stderr.write(`sandbox: ${variable}: ${config.host}:${which} ${why}; stop it or set ${variable} to a free port\n`);
  process.exit(1);
}
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
