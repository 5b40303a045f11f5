// `link-broker customers reset-totp --client-id ID --subject SUB --reason TEXT`
import { str, UsageError, type CliGroup } from "./cli-command.ts";

/** Loaded when the command runs: help and usage errors need none of it. */
const load = async () => {
  const [{ systemClock }, { createSealer }, { createStaffAuditRepo }, { createClientRepo }, { createLinksRepo }, { createTotpRepo }, { createResetSecondFactor }, { createGraphClient }, { createOutboundFetch }] = await Promise.all([
    import("../clock.ts"),
    import("../crypto/seal.ts"),
    import("../console/staff-repo.ts"),
    import("../oauth/clients/client-repo.ts"),
    import("../links/links-repo.ts"),
    import("../linking/totp-repo.ts"),
    import("../linking/reset-second-factor.ts"),
    import("../messenger/graph-client.ts"),
    import("../net/outbound-fetch.ts"),
  ]);
  return { systemClock, createSealer, createStaffAuditRepo, createClientRepo, createLinksRepo, createTotpRepo, createResetSecondFactor, createGraphClient, createOutboundFetch };
};

export const customersCommands: CliGroup = {
  summary: "bank customers (their second factor)",
  commands: {
    "reset-totp": {
      summary: "reset a customer's second factor at one bank (lost phone, no recovery code left): the next link enrols a new authenticator, and the customer's linked chats are told",
      access: "write",
      options: {
        "client-id": { type: "string", value: "ID", required: true, description: "the bank's client id" },
        subject: { type: "string", value: "SUB", required: true, description: "the customer's id at the bank (`sub` of its identity provider)" },
        reason: { type: "string", value: "TEXT", required: true, description: "why (a ticket number, how identity was checked); kept in the staff audit log" },
      },
      run: async (ctx, values) => {
        const reason = str(values, "reason")!.trim();
        if (reason.length < 3) throw new UsageError("--reason must say why (at least 3 characters)");
        const m = await load();
        const clientId = str(values, "client-id")!;
        const subject = str(values, "subject")!;
        const clients = m.createClientRepo(ctx.db);
        if (!(await clients.findById(clientId))) throw new Error(`no enabled client ${clientId}`);
        // The Graph URL is the operator's own configuration: capped, not address-checked (as the broker does).
        const fetch = m.createOutboundFetch({ timeoutMs: 5_000 });
        try {
          const reset = m.createResetSecondFactor({
            totp: m.createTotpRepo(ctx.db),
            links: m.createLinksRepo(ctx.db),
            clients: { get: (id) => clients.findById(id) },
            sealer: m.createSealer(ctx.config.masterKey, ctx.config.previousMasterKeys),
            graph: m.createGraphClient({ baseUrl: ctx.config.messengerGraphUrl, timeoutMs: 5_000, fetch }),
            clock: m.systemClock,
            onNotifyError: (err) => ctx.out(`could not tell one linked chat: ${err.message}`),
          });
          const result = await reset({ clientId, subject, actor: "cli", reason });
          // The staff audit log records what the CLI did (actor: the CLI), as the console's resets.
          await m.createStaffAuditRepo(ctx.db).append({ staffId: null, email: null, action: "reset_second_factor", target: `customer:${clientId}:${subject}`, detail: { via: "cli", reason, reset: result.reset, notified: result.notified, not_notified: result.notNotified }, at: result.at });
          ctx.out(
            result.reset
              ? `reset the second factor of ${subject} at ${clientId}; they enrol a new authenticator at their next link (linked chats told: ${result.notified}, not reached: ${result.notNotified})`
              : `${subject} has no second factor at ${clientId}: nothing changed`,
          );
        } finally {
          await fetch.close();
        }
      },
    },
  },
};
