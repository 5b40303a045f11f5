// Servers for bench/oauth.bench.ts, each run in its own process group:
//   broker <port> <database url> [processes]   the broker on Postgres (rate limits on, raised above the load)
//   oidc <port> [processes]                    oidc-provider, ES256 JWT access tokens for client_credentials
//   oidc-redis <port> [processes]              the same with its store in Redis (REDIS_URL), shared by processes
//   floor <port>                               Fastify with only a form body parser and POST routes that answer
//                                              fixed introspection and /ledger/check replies: what any Fastify route costs
// With more than one process, node:cluster runs that many on the port (the broker's own supervisor,
// src/workers.ts, as BROKER_WORKERS does). BENCH_MASTER_KEY and BENCH_OIDC_JWK, when set, make
// every process (and every server started with them) use the same keys.
import cluster from "node:cluster";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { superviseWorkers } from "../../apps/broker/src/workers.ts";

const [mode, portArg, ...rest] = process.argv.slice(2);
const port = Number(portArg);
const issuer = `http://127.0.0.1:${port}`;
const processes = Number((mode === "broker" ? rest[1] : rest[0]) ?? 1);

async function serve() {
  if (mode === "broker") {
    const dbUrl = rest[0]!;
    const { createDb } = await import("../../packages/db/src/index.ts");
    const { buildApp } = await import("../../apps/broker/src/app.ts");
    const { loadConfig } = await import("../../apps/broker/src/config.ts");
    const config = loadConfig(
      { PUBLIC_URL: issuer, PORT: String(port), DATABASE_URL: dbUrl, BROKER_MASTER_KEY: process.env.BENCH_MASTER_KEY ?? randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: process.env.BENCH_REGISTRATION_TOKEN, LOG_LEVEL: "silent" },
      { dataDir: tmpdir() },
    );
    const db = await createDb({ url: dbUrl, poolSize: 20 });
    const high = { perIp: { max: 10_000_000, windowSeconds: 10 }, perClient: { max: 10_000_000, windowSeconds: 10 } };
    const app = await buildApp({ config, db, logger: false, oauth: { rateLimits: { token: high, introspect: high } } });
    await app.listen({ port, host: "127.0.0.1" });
  } else if (mode === "oidc" || mode === "oidc-redis") {
    const { default: Provider } = await import("../../apps/broker/node_modules/oidc-provider/lib/index.js");
    const jwk = process.env.BENCH_OIDC_JWK ? JSON.parse(process.env.BENCH_OIDC_JWK) : newJwk();
    const provider = new Provider(issuer, {
      ...(mode === "oidc-redis" ? { adapter: await redisAdapter() } : {}),
      clients: [
        { client_id: "bench-jwt", client_secret: "bench-secret-bench-secret-bench-secret-1", grant_types: ["client_credentials"], response_types: [], redirect_uris: [], scope: "ledger:check", token_endpoint_auth_method: "client_secret_basic", id_token_signed_response_alg: "ES256" },
        { client_id: "bench-opaque", client_secret: "bench-secret-bench-secret-bench-secret-2", grant_types: ["client_credentials"], response_types: [], redirect_uris: [], scope: "ledger:check", token_endpoint_auth_method: "client_secret_basic", id_token_signed_response_alg: "ES256" },
      ],
      jwks: { keys: [jwk] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // bench-jwt gets ES256 JWT access tokens; bench-opaque gets stored (introspectable) ones.
          defaultResource: (_ctx: unknown, client: { clientId: string }) => (client.clientId === "bench-jwt" ? "urn:link-broker" : undefined),
          getResourceServerInfo: () => ({ scope: "ledger:check", audience: "urn:link-broker", accessTokenTTL: 600, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } }),
          useGrantedResource: () => true,
        },
      },
      scopes: ["ledger:check"],
    } as never);
    const server = provider.listen(port, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
  } else if (mode === "floor") {
    const { default: Fastify } = await import("../../apps/broker/node_modules/fastify/fastify.js");
    const { default: formbody } = await import("../../apps/broker/node_modules/@fastify/formbody/index.js");
    const app = Fastify({ logger: false });
    await app.register(formbody);
    const reply = { active: true, scope: "ledger:check", client_id: "bench", token_type: "Bearer", exp: 1, iat: 1, sub: "bench", aud: issuer, iss: issuer, jti: "bench" };
    app.post("/oauth/introspect", async () => reply);
    // The floor of /ledger/check: a JSON body in, a fixed JSON answer out.
    const check = { allowed: true, consent_id: "bench", expires_at: null, reason: "active" };
    app.post("/ledger/check", async () => check);
    await app.listen({ port, host: "127.0.0.1" });
  } else {
    throw new Error("usage: oauth-servers.ts broker <port> <database url> [processes] | oidc|oidc-redis <port> [processes] | floor <port>");
  }
}

/** oidc-provider's storage interface on Redis (after its example adapter), for the models this benchmark uses. */
async function redisAdapter() {
  const { Redis } = await import("../../apps/broker/node_modules/ioredis/built/index.js");
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: `oidc-bench:${port}:` });
  return class RedisAdapter {
    constructor(private readonly name: string) {}
    private key(id: string) {
      return `${this.name}:${id}`;
    }
    async upsert(id: string, payload: object, expiresIn?: number) {
      if (expiresIn) await redis.set(this.key(id), JSON.stringify(payload), "EX", expiresIn);
      else await redis.set(this.key(id), JSON.stringify(payload));
    }
    async find(id: string) {
      const data = await redis.get(this.key(id));
      return data ? JSON.parse(data) : undefined;
    }
    async consume(id: string) {
      const data = await this.find(id);
      if (data) await redis.set(this.key(id), JSON.stringify({ ...data, consumed: Math.floor(Date.now() / 1000) }), "KEEPTTL");
    }
    async destroy(id: string) {
      await redis.del(this.key(id));
    }
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async revokeByGrantId() {}
  };
}

function newJwk() {
  return { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }), kid: "bench", alg: "ES256", use: "sig" };
}

if (processes > 1 && cluster.isPrimary) {
  process.env.BENCH_MASTER_KEY ??= randomBytes(32).toString("base64");
  process.env.BENCH_OIDC_JWK ??= JSON.stringify(newJwk());
  let listening = 0;
  cluster.on("listening", () => {
    if (++listening === processes) process.stdout.write("ready\n");
  });
  superviseWorkers(processes, (line) => process.stderr.write(`${line}\n`));
} else {
  await serve();
  if (cluster.isPrimary) {
    process.stdout.write("ready\n");
    process.on("SIGTERM", () => process.exit(0));
  }
}
