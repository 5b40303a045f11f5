// The console's rules: who may do what, and the audit row every staff action leaves.
import { Readable } from "node:stream";
import { CUSTOMER_SCOPES, effectiveState, LedgerError, PURPOSES, type ConsentLedger, type ConsentRecord, type EntryRecord, type VerifyResult } from "@link-broker/consent-ledger";
import type { Consent } from "@link-broker/db";
import type { Clock } from "../clock.ts";
import { BrokerError, ForbiddenError, NotFoundError } from "../errors.ts";
import type { ResetSecondFactorInput, ResetSecondFactorResult } from "../linking/reset-second-factor.ts";
import type { LinksService } from "../links/links-service.ts";
import type { ClientRow } from "../oauth/clients/client-repo.ts";
import type { ConsentSearch, ConsoleRepo, DailyCount } from "./console-repo.ts";
import type { Staff, StaffAuditRepo } from "./staff-repo.ts";

/** Who is acting, and in which request: the audit row's who and which. */
export interface StaffActor {
  staff: Pick<Staff, "id" | "email" | "role">;
  requestId: string;
  ip: string;
}

export const PAGE_SIZE = 50;
export const OVERVIEW_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ConsoleClients {
  list(): Promise<ClientRow[]>;
  /** Revokes the client's tokens and stops new links; false when it was already disabled. */
  disable(clientId: string): Promise<boolean>;
}

export interface ConsoleServiceDeps {
  repo: Pick<ConsoleRepo, "search" | "searchAll" | "dailyEntries" | "attemptOutcomes" | "activeLinksByClient">;
  audit: Pick<StaffAuditRepo, "append" | "list">;
  ledger: Pick<ConsentLedger, "get" | "receipt" | "verify" | "withdraw">;
  links: Pick<LinksService, "unlink">;
  clients: ConsoleClients;
  /** Each consent's events to its bank and their delivery state. */
  events: { ofConsent(consentId: string): Promise<ConsentEventRow[]> };
  /** The linking module's staff reset of a customer's second factor (removes it, tells the chats). */
  resetSecondFactor: (input: ResetSecondFactorInput) => Promise<ResetSecondFactorResult>;
  clock: Clock;
}

/** A consent event as the console shows it. */
export interface ConsentEventRow {
  jti: string;
  type: string;
  ledgerSeq: bigint;
  createdAt: Date;
  push: string;
  deliveredAt: Date | null;
  ackedAt: Date | null;
  lastError: string | null;
}

/** A consent row as the console shows and exports it; status is the effective one. */
export interface ConsentRow {
  id: string;
  client_id: string;
  subject: string;
  psid: string | null;
  link_id: string | null;
  status: string;
  scopes: string[];
  purposes: string[];
  granted_at: string;
  expires_at: string;
  updated_at: string;
  last_seq: string;
}

export function consentRow(c: Consent, now: Date): ConsentRow {
  return {
    id: c.id,
    client_id: c.clientId,
    subject: c.subject,
    psid: c.psid,
    link_id: c.linkId,
    status: effectiveState(c.status as "active" | "withdrawn" | "expired", c.expiresAt, now),
    scopes: c.scopes,
    purposes: c.purposes,
    granted_at: c.grantedAt.toISOString(),
    expires_at: c.expiresAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    last_seq: c.lastSeq.toString(),
  };
}

export const CSV_COLUMNS = ["id", "client_id", "subject", "psid", "link_id", "status", "scopes", "purposes", "granted_at", "expires_at", "updated_at", "last_seq"] as const;

/** RFC 4180 quoting; a cell that a spreadsheet would run as a formula is prefixed with `'`. */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export interface Overview {
  days: string[];
  /** Per day: granted, withdrawn, expired (renewals count as grants kept, not new ones). */
  daily: { day: string; granted: number; withdrawn: number; expired: number }[];
  byBank: { clientId: string; name: string; granted: number; withdrawn: number; expired: number }[];
  attempts: { total: number; declined: number; failed: number; expired: number; completed: number; inProgress: number };
  /** The bank the overview is narrowed to, if any. */
  bank?: string;
}

export function createConsoleService(deps: ConsoleServiceDeps) {
  const { repo, audit, ledger, links, clients, clock } = deps;

  const record = (actor: StaffActor, action: string, target: string | null, detail: Record<string, unknown> = {}) =>
    audit.append({ staffId: actor.staff.id, email: actor.staff.email, action, target, detail, requestId: actor.requestId, ip: actor.ip, at: clock.now() });

  function requireAdmin(actor: StaffActor, what: string) {
    if (actor.staff.role !== "admin") throw new ForbiddenError(`Only an admin may ${what}`);
  }

  async function getConsent(id: string): Promise<{ consent: ConsentRecord; entries: EntryRecord[] }> {
    try {
      return await ledger.get(id);
    } catch (err) {
      if (err instanceof LedgerError && err.status === 404) throw new NotFoundError("No consent with this id");
      throw err;
    }
  }

  const searchDetail = (s: ConsentSearch) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));

  return {
    record,
    /** A failed sign-in: the staff member when the email is known, else the email as typed. */
    recordSignInFailure: (member: Pick<Staff, "id" | "email"> | undefined, typedEmail: string, request: { requestId: string; ip: string }, detail: Record<string, unknown>) =>
      audit.append({ staffId: member?.id ?? null, email: member?.email ?? typedEmail.slice(0, 254), action: "sign_in_failed", target: null, detail, requestId: request.requestId, ip: request.ip, at: clock.now() }),
    /** Banks for the search form's select (not an audited view of its own). */
    bankOptions: async () => (await clients.list()).map((c) => ({ id: c.id, name: c.name })),
    scopes: CUSTOMER_SCOPES,
    purposes: PURPOSES,

    async search(actor: StaffActor, s: ConsentSearch, page: number): Promise<{ items: ConsentRow[]; hasMore: boolean }> {
      const now = clock.now();
      const result = await repo.search(s, now, { offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
      await record(actor, "search", null, { ...searchDetail(s), page, results: result.items.length });
      return { items: result.items.map((c) => consentRow(c, now)), hasMore: result.hasMore };
    },

    /** The current search, every page, as JSONL or CSV; read in batches while it streams. */
    async export(actor: StaffActor, s: ConsentSearch, format: "jsonl" | "csv"): Promise<Readable> {
      await record(actor, "export", null, { ...searchDetail(s), format });
      const now = clock.now();
      async function* lines() {
        if (format === "csv") yield `${CSV_COLUMNS.join(",")}\r\n`;
        for await (const batch of repo.searchAll(s, now)) {
          let chunk = "";
          for (const c of batch) {
            const row = consentRow(c, now);
            chunk += format === "jsonl" ? `${JSON.stringify(row)}\n` : `${CSV_COLUMNS.map((k) => csvCell(row[k])).join(",")}\r\n`;
          }
          yield chunk;
        }
      }
      return Readable.from(lines(), { objectMode: false });
    },

    async consent(actor: StaffActor, id: string): Promise<{ consent: ConsentRecord; entries: EntryRecord[]; receipt: string; events: ConsentEventRow[] }> {
      const found = await getConsent(id);
      const receipt = await ledger.receipt(id);
      const events = await deps.events.ofConsent(id);
      await record(actor, "view", `consent:${id}`);
      return { ...found, receipt, events };
    },

    /**
     * Admin only. Ends the link exactly as an unlink does (ledger `withdrawn` entry by
     * `compliance` with the staff id as evidence, tokens revoked, Messenger told); a consent with
     * no live link is withdrawn in the ledger alone.
     */
    async withdraw(actor: StaffActor, id: string, reason: string): Promise<{ changed: boolean }> {
      requireAdmin(actor, "withdraw a consent");
      const { consent } = await getConsent(id);
      if (consent.status !== "active") throw new BrokerError("not_active", `This consent is already ${consent.status}`, 409);
      const evidence = { staff_id: actor.staff.id, request_id: actor.requestId };
      let changed = false;
      if (consent.linkId) {
        const result = await links.unlink(consent.linkId, { actor: "compliance", reason, notifyMessenger: true, consentId: consent.id, evidence });
        changed = result.status === "unlinked";
      }
      if (!changed) changed = (await ledger.withdraw({ consentId: consent.id, actor: "compliance", reason, evidence })).changed;
      await record(actor, "withdraw", `consent:${id}`, { reason, link_id: consent.linkId, changed });
      return { changed };
    },

    /** Subject access: every consent of one customer, across banks, with its history. */
    async subjectAccess(actor: StaffActor, who: { subject?: string; psid?: string }) {
      const now = clock.now();
      const consents: { consent: ConsentRow; entries: EntryRecord[] }[] = [];
      for await (const batch of repo.searchAll(who, now)) {
        for (const c of batch) consents.push({ consent: consentRow(c, now), entries: (await getConsent(c.id)).entries });
      }
      await record(actor, "subject_access", who.subject ? `subject:${who.subject}` : `psid:${who.psid}`, { consents: consents.length });
      return { generated_at: now.toISOString(), ...who, consents };
    },

    async verify(actor: StaffActor): Promise<VerifyResult> {
      const result = await ledger.verify();
      await record(actor, "verify", null, { ok: result.ok, checked: result.checked, first_bad_seq: result.firstBadSeq, problem: result.problem });
      return result;
    },

    /** Counts per day and bank, from SQL aggregates over the last `OVERVIEW_DAYS` days. */
    async overview(actor: StaffActor, clientId?: string): Promise<Overview> {
      const now = clock.now();
      const since = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - (OVERVIEW_DAYS - 1) * DAY_MS);
      const [entries, attempts, bankList] = await Promise.all([repo.dailyEntries(since, clientId), repo.attemptOutcomes(since, clientId), clients.list()]);
      const days = Array.from({ length: OVERVIEW_DAYS }, (_, i) => new Date(since.getTime() + i * DAY_MS).toISOString().slice(0, 10));
      const names = new Map(bankList.map((c) => [c.id, c.name]));
      const daily = days.map((day) => ({ day, granted: 0, withdrawn: 0, expired: 0 }));
      const byDay = new Map(daily.map((d) => [d.day, d]));
      const banks = new Map<string, Overview["byBank"][number]>();
      const add = (target: { granted: number; withdrawn: number; expired: number }, e: DailyCount) => {
        if (e.action === "granted" || e.action === "withdrawn" || e.action === "expired") target[e.action] += e.count;
      };
      for (const e of entries) {
        const d = byDay.get(e.day);
        if (d) add(d, e);
        const b = banks.get(e.clientId) ?? { clientId: e.clientId, name: names.get(e.clientId) ?? e.clientId, granted: 0, withdrawn: 0, expired: 0 };
        banks.set(e.clientId, b);
        add(b, e);
      }
      const count = (state: string) => attempts.filter((a) => a.state === state).reduce((n, a) => n + a.count, 0);
      const total = attempts.reduce((n, a) => n + a.count, 0);
      const finished = { declined: count("declined"), failed: count("failed"), expired: count("expired"), completed: count("code_issued") };
      await record(actor, "view", "overview", clientId ? { bank: clientId } : {});
      return { ...(clientId ? { bank: clientId } : {}), days, daily, byBank: [...banks.values()].sort((a, b) => a.name.localeCompare(b.name)), attempts: { total, ...finished, inProgress: total - finished.declined - finished.failed - finished.expired - finished.completed } };
    },

    async banks(actor: StaffActor) {
      const [list, active] = await Promise.all([clients.list(), repo.activeLinksByClient()]);
      await record(actor, "view", "banks");
      return list.map((c) => ({ id: c.id, name: c.name, scopes: c.scopes, createdAt: c.createdAt, disabledAt: c.deletedAt, messenger: c.messengerPageId !== null, activeLinks: active.get(c.id) ?? 0 }));
    },

    async disableBank(actor: StaffActor, clientId: string, reason: string): Promise<void> {
      requireAdmin(actor, "disable a bank");
      const changed = await clients.disable(clientId);
      if (!changed) throw new NotFoundError("No enabled bank with this client id");
      await record(actor, "disable", `client:${clientId}`, { reason });
    },

    /**
     * Admin only, with a reason: a customer who lost their authenticator and every recovery code
     * enrols a new one at their next link. The customer's linked chats are told (the linking
     * module); the audit row says who, why, and how many chats were told.
     */
    async resetSecondFactor(actor: StaffActor, who: { clientId: string; subject: string }, reason: string): Promise<ResetSecondFactorResult> {
      requireAdmin(actor, "reset a customer's second factor");
      const result = await deps.resetSecondFactor({ clientId: who.clientId, subject: who.subject, actor: `staff:${actor.staff.id}`, reason });
      await record(actor, "reset_second_factor", `customer:${who.clientId}:${who.subject}`, { reason, reset: result.reset, notified: result.notified, not_notified: result.notNotified });
      return result;
    },

    async auditLog(actor: StaffActor, before?: bigint) {
      const rows = await audit.list({ limit: PAGE_SIZE, ...(before !== undefined ? { before } : {}) });
      await record(actor, "view", "audit_log");
      return rows;
    },
  };
}
export type ConsoleService = ReturnType<typeof createConsoleService>;
