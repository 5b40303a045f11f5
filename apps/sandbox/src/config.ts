// Sandbox configuration: environment variables, parsed once at start.
import { resolve } from "node:path";

export interface SandboxConfig {
  host: string;
  port: number;
  idpPort: number;
  /** Where the chat page, Graph API and bank bot are reachable. */
  publicUrl: string;
  /** The bank identity provider's issuer. */
  idpIssuer: string;
  brokerUrl: string;
  dataDir: string;
  registrationToken: string | undefined;
  /** Timeout of every call to the broker, so the chat never hangs on a dead broker. */
  brokerTimeoutMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): SandboxConfig {
  const host = env.SANDBOX_HOST ?? "127.0.0.1";
  const port = Number(env.SANDBOX_PORT ?? 4000);
  const idpPort = Number(env.SANDBOX_IDP_PORT ?? port + 1);
  const brokerPort = Number(env.BROKER_PORT ?? env.PORT ?? 3000);
  return Object.freeze({
    host,
    port,
    idpPort,
    publicUrl: (env.SANDBOX_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/$/, ""),
    // 127.0.0.1, not localhost: the bank is another site, so its cookies never mix with the broker's.
    idpIssuer: (env.SANDBOX_IDP_ISSUER ?? `http://127.0.0.1:${idpPort}`).replace(/\/$/, ""),
    brokerUrl: (env.BROKER_URL ?? `http://localhost:${brokerPort}`).replace(/\/$/, ""),
    dataDir: resolve(cwd, env.SANDBOX_DATA_DIR ?? ".data/sandbox"),
    registrationToken: env.BROKER_REGISTRATION_TOKEN,
    brokerTimeoutMs: Number(env.SANDBOX_BROKER_TIMEOUT_MS ?? 5000),
  });
}
