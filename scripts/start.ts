// `pnpm start`: the broker on the embedded database under .data/ (migrated at start).
// Prints one line with the URL when ready; Ctrl-C stops everything cleanly.
import { spawn } from "node:child_process";

const port = Number(process.env.PORT ?? 3000);
const brokerUrl = process.env.PUBLIC_URL ?? `http://localhost:${port}`;

// Node with the tsx loader directly (not through pnpm), so signals reach the broker itself.
const broker = spawn(process.execPath, ["--import", "tsx", "apps/broker/src/main.ts"], {
  cwd: new URL("..", import.meta.url),
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
});

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  stopping = true;
  broker.kill(signal);
};
process.on("SIGINT", () => stop("SIGTERM"));
process.on("SIGTERM", () => stop("SIGTERM"));
broker.on("exit", (code) => process.exit(stopping ? 0 : (code ?? 1)));

for (let i = 0; i < 600 && !stopping; i++) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    if (res.ok) {
      process.stdout.write(`link-broker is ready: open ${brokerUrl}/docs\n`);
      break;
    }
  } catch {}
  await new Promise((r) => setTimeout(r, 200));
}
