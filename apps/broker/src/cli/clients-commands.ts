// `link-broker clients list | create --name ... [--rate-limits JSON] | rate-limits --client-id ID (--set JSON | --clear) | disable --client-id ID`
import { readFileSync } from "node:fs";
import type { ClientMetadata } from "../oauth/clients/validate-metadata.ts";
import { CLIENT_LIMIT_ENDPOINTS, type ClientRateLimits } from "../plugins/rate-limit-policy.ts";
import { str, UsageError, type CliGroup } from "./cli-command.ts";

/** Loaded when a command runs: help and usage errors need none of it. */
const load = async () => {
  const [{ systemClock }, { createSealer }, { createStaffAuditRepo }, { BrokerError }, { createClientRepo }, { createRegistrationService }, { ClientMetadataInput }, { Value }, { parseClientRateLimits, RateLimitsError }] = await Promise.all([
    import("../clock.ts"),
    import("../crypto/seal.ts"),
    import("../console/staff-repo.ts"),
    import("../errors.ts"),
    import("../oauth/clients/client-repo.ts"),
    import("../oauth/clients/register-service.ts"),
    import("../oauth/clients/register-schemas.ts"),
    import("typebox/value"),
    import("../plugins/rate-limit-policy.ts"),
  ]);
  return { systemClock, createSealer, createStaffAuditRepo, BrokerError, createClientRepo, createRegistrationService, ClientMetadataInput, Value, parseClientRateLimits, RateLimitsError };
};

function metadataFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`--metadata must name a readable JSON file (${(err as Error).message.split("\n")[0]})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError("--metadata must hold a JSON object (RFC 7591 client metadata)");
  return parsed as Record<string, unknown>;
}

/** `  rate limits token=5000/10s link=600/m`: the operator's own limits of a client, if any. */
function ownLimits(stored: unknown): string {
  if (!stored || typeof stored !== "object" || Array.isArray(stored)) return "";
  // In the endpoints' own order: the database keeps JSON keys in an order of its own.
  const set = CLIENT_LIMIT_ENDPOINTS.filter((endpoint) => Object.hasOwn(stored, endpoint));
  return set.length ? `  rate limits ${set.map((endpoint) => `${endpoint}=${String((stored as Record<string, unknown>)[endpoint])}`).join(" ")}` : "";
}

export const clientsCommands: CliGroup = {
  summary: "registered bank clients",
  commands: {
    list: {
      summary: "list registered clients (id, name, scopes, state, the operator's own rate limits)",
      access: "read",
      run: async (ctx) => {
        const { createClientRepo } = await load();
        const clients = await createClientRepo(ctx.db).list();
        if (!clients.length) ctx.out("no clients registered");
        for (const c of clients) ctx.out(`${c.id}  ${JSON.stringify(c.name)}  ${c.scopes.join(" ")}  ${c.deletedAt ? `disabled ${c.deletedAt.toISOString()}` : "enabled"}${ownLimits(c.rateLimits)}`);
      },
    },
    create: {
      summary: "register a client and print its client_secret and registration_access_token (shown once)",
      access: "write",
      options: {
        name: { type: "string", value: "NAME", description: "client_name (or in --metadata)" },
        scope: { type: "string", value: "SCOPES", description: "space-separated scopes, e.g. \"balance:read alerts:fraud\"" },
        "grant-type": { type: "string", multiple: true, choices: ["authorization_code", "refresh_token", "client_credentials"], description: "grant types (default authorization_code + refresh_token)" },
        metadata: { type: "string", value: "FILE", description: "a JSON file of RFC 7591 metadata (with messenger and bank_idp objects); the options above override it" },
        "rate-limits": {
          type: "string",
          value: "JSON",
          description: 'this client\'s own per-client limits, over BROKER_RATE_LIMITS\' per_client, e.g. \'{"token":"5000/10s","link":"600/m"}\' (token, par, introspect, revoke, link, events_poll)',
        },
      },
      run: async (ctx, values) => {
        const { systemClock, createSealer, BrokerError, createClientRepo, createRegistrationService, ClientMetadataInput, Value, parseClientRateLimits, RateLimitsError } = await load();
        let rateLimits: ClientRateLimits | undefined;
        try {
          rateLimits = values["rate-limits"] === undefined ? undefined : parseClientRateLimits(str(values, "rate-limits")!);
        } catch (err) {
          if (err instanceof RateLimitsError) throw new UsageError(`--rate-limits ${err.message}`);
          throw err;
        }
        const meta: Record<string, unknown> = values.metadata ? metadataFile(str(values, "metadata")!) : {};
        if (values.name !== undefined) meta.client_name = values.name;
        if (values.scope !== undefined) meta.scope = values.scope;
        if (values["grant-type"]) meta.grant_types = values["grant-type"];
        if (meta.client_name === undefined) throw new UsageError("--name is required (or client_name in --metadata)");
        const problem = [...Value.Errors(ClientMetadataInput, meta)][0];
        if (problem) throw new UsageError(`client metadata ${problem.instancePath || "/"} ${problem.message}`);
        try {
          const registration = createRegistrationService({ repo: createClientRepo(ctx.db), cache: { invalidate: () => {} }, sealer: createSealer(ctx.config.masterKey, ctx.config.previousMasterKeys), config: ctx.config, clock: systemClock });
          const created = await registration.register(meta as ClientMetadata, { rateLimits });
          ctx.out(JSON.stringify({ client_id: created.client_id, client_secret: created.client_secret, registration_access_token: created.registration_access_token, scope: created.scope, grant_types: created.grant_types, ...(rateLimits ? { rate_limits: rateLimits } : {}) }, null, 2));
          ctx.out("The client_secret and registration_access_token are not shown again.");
        } catch (err) {
          if (err instanceof BrokerError) throw new UsageError(err.message);
          throw err;
        }
      },
    },
    "rate-limits": {
      summary: "set or clear a client's own per-client rate limits (running brokers apply them within 5 s)",
      access: "write",
      options: {
        "client-id": { type: "string", value: "ID", required: true, description: "the client_id" },
        set: { type: "string", value: "JSON", description: 'the client\'s own limits, replacing any it had, e.g. \'{"token":"5000/10s"}\' (token, par, introspect, revoke, link, events_poll)' },
        clear: { type: "boolean", description: "remove the client's own limits: BROKER_RATE_LIMITS' per_client apply again" },
      },
      run: async (ctx, values) => {
        if ((values.set === undefined) === !values.clear) throw new UsageError("give either --set JSON or --clear");
        const { systemClock, createStaffAuditRepo, createClientRepo, parseClientRateLimits, RateLimitsError } = await load();
        let rateLimits: ClientRateLimits | null = null;
        try {
          if (values.set !== undefined) rateLimits = parseClientRateLimits(str(values, "set")!);
        } catch (err) {
          if (err instanceof RateLimitsError) throw new UsageError(`--set ${err.message}`);
          throw err;
        }
        // An empty object clears too: no endpoint of its own left.
        if (rateLimits && !Object.keys(rateLimits).length) rateLimits = null;
        const id = str(values, "client-id")!;
        if (!(await createClientRepo(ctx.db).setRateLimits(id, rateLimits))) throw new Error(`no enabled client ${id}`);
        await createStaffAuditRepo(ctx.db).append({ staffId: null, email: null, action: "client.rate_limits", target: `client:${id}`, detail: { via: "cli", rate_limits: rateLimits }, at: systemClock.now() });
        ctx.out(rateLimits ? `${id}: rate limits${ownLimits(rateLimits).replace("  rate limits", "")} (running brokers apply them within 5 s)` : `${id}: its own rate limits removed; BROKER_RATE_LIMITS' per_client apply (within 5 s)`);
      },
    },
    disable: {
      summary: "disable a client: its tokens are revoked at once and it can start no new link",
      access: "write",
      options: { "client-id": { type: "string", value: "ID", required: true, description: "the client_id" } },
      run: async (ctx, values) => {
        const { systemClock, createStaffAuditRepo, createClientRepo } = await load();
        const id = str(values, "client-id")!;
        const repo = createClientRepo(ctx.db);
        const client = await repo.findById(id);
        if (!client) throw new Error(`no enabled client ${id}`);
        await repo.remove(id, systemClock.now());
        await createStaffAuditRepo(ctx.db).append({ staffId: null, email: null, action: "client.disable", target: `client:${id}`, detail: { via: "cli" }, at: systemClock.now() });
        ctx.out(`disabled ${id} (${client.name}); its tokens are revoked (running brokers stop accepting it within 5 s)`);
      },
    },
  },
};
