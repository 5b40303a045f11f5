import type { Consent, LedgerCheckpoint, LedgerEntry, Tx } from "@link-broker/db";
import { describe, expect, it } from "vitest";
import { CSV_COLUMNS, csvField, exportLedger } from "./export.ts";
import { buildChain } from "./testing.ts";

/** A store over arrays, paging as the database does; records every read's arguments. */
function arrayStore(entries: LedgerEntry[], checkpoints: Pick<LedgerCheckpoint, "seq" | "headHash" | "kid" | "jws">[], consents: Consent[]) {
  const reads: string[] = [];
  const tx = {} as Tx;
  const snapshots = { open: 0 };
  const store = {
    snapshot: async <T>(fn: (t: Tx) => Promise<T>) => {
      snapshots.open++;
      try {
        return await fn(tx);
      } finally {
        snapshots.open--;
      }
    },
    checkpoints: async (t?: Tx) => {
      reads.push(`checkpoints ${t === tx}`);
      return checkpoints as LedgerCheckpoint[];
    },
    entriesAfter: async (after: bigint, take: number, range?: { from?: Date; to?: Date }, t?: Tx) => {
      reads.push(`entries>${after} ${take} ${range?.from?.toISOString() ?? "-"} ${t === tx}`);
      return entries.filter((e) => e.seq > after && (!range?.from || e.recordedAt >= range.from)).slice(0, take);
    },
    consentsAfter: async (t: Tx, afterId: string | null, take: number) => {
      reads.push(`consents>${afterId} ${take} ${t === tx}`);
      return consents.filter((c) => afterId === null || c.id > afterId).slice(0, take);
    },
  };
  // Plain promises where the store's type names Prisma's: the export only awaits them.
  return Object.assign(store as unknown as Parameters<typeof exportLedger>[0], { reads, snapshots });
}

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = "";
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

const asEntries = (n: number) => buildChain(Array.from({ length: n }, (_, i) => ({ consentId: `c${i % 3}` }))).map((e) => ({ ...e, seq: BigInt(e.seq) }) as unknown as LedgerEntry);
const checkpointAt = (seq: bigint) => ({ seq, headHash: `h${seq}`, kid: "k1", jws: `j${seq}` });
const consentRow = (id: string) => ({ id, clientId: "bank-a", subject: "s", linkId: null, psid: null, status: "active", scopes: [], purposes: [], pairs: [], expiresAt: new Date(0), grantedAt: new Date(0), updatedAt: new Date(0), lastSeq: 1n }) as unknown as Consent;

describe("CSV fields", () => {
  it("neutralise values a spreadsheet would run as a formula with a leading quote", () => {
    for (const v of ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]) expect(csvField(v)).toBe(`"'${v.replace(/"/g, '""')}"`);
    expect(csvField(["=a", "b"])).toBe(`"'=a b"`);
    expect(csvField({ note: "=1" })).toBe(`"{""note"":""=1""}"`);
  });
  it("leave other values as they are, quoted as RFC 4180 says", () => {
    expect(csvField("cust-1")).toBe(`"cust-1"`);
    expect(csvField('say "hi"')).toBe(`"say ""hi"""`);
    expect(csvField("a=b")).toBe(`"a=b"`);
    expect(csvField(null)).toBe(`""`);
    expect(csvField(undefined)).toBe(`""`);
    expect(csvField(42)).toBe(`"42"`);
  });
});

describe("the JSONL export", () => {
  it("puts each checkpoint right after the entry it signs, then every consent row, reading in batches from one snapshot", async () => {
    const entries = asEntries(2_500);
    // A checkpoint of a seq with no entry (it cannot exist, but still goes out in order), and one past the end.
    const checkpoints = [checkpointAt(1n), checkpointAt(1_000n), checkpointAt(1_001n), checkpointAt(2_500n), checkpointAt(2_600n)];
    const consents = Array.from({ length: 1_001 }, (_, i) => consentRow(`c${String(i).padStart(4, "0")}`));
    const store = arrayStore(entries.filter((e) => e.seq !== 1_001n), checkpoints, consents);
    const lines = (await text(exportLedger(store, { format: "jsonl" }))).trimEnd().split("\n").map((l) => JSON.parse(l));
    const kinds = lines.map((l) => (l.type === "checkpoint" ? `cp${l.seq}` : l.type === "consent" ? "row" : `e${l.seq}`));
    expect(kinds.slice(0, 3)).toEqual(["e1", "cp1", "e2"]);
    expect(kinds.slice(kinds.indexOf("e1000"), kinds.indexOf("e1000") + 4)).toEqual(["e1000", "cp1000", "cp1001", "e1002"]);
    expect(kinds.slice(kinds.indexOf("e2500"), kinds.indexOf("e2500") + 4)).toEqual(["e2500", "cp2500", "cp2600", "row"]);
    expect(kinds.filter((k) => k.startsWith("e"))).toHaveLength(2_499);
    expect(kinds.filter((k) => k === "row")).toHaveLength(1_001);
    expect(lines.at(-1)).toMatchObject({ type: "consent", id: "c1000" });
    expect(lines[0]).toEqual({ seq: "1", consent_id: "c0", action: "granted", client_id: "bank-a", subject: "cust-1", link_id: "link-1", psid: "psid-1", scopes: ["balance:read"], purposes: ["account_servicing"], pairs: [{ scope: "balance:read", purpose: "account_servicing" }], expires_at: entries[0]!.expiresAt.toISOString(), actor: "customer", evidence: { ip: "192.0.2.1" }, recorded_at: entries[0]!.recordedAt.toISOString(), prev_hash: entries[0]!.prevHash, hash: entries[0]!.hash });
    expect(lines[1]).toEqual({ type: "checkpoint", seq: "1", head_hash: "h1", kid: "k1", jws: "j1" });
    expect(store.reads).toEqual(["checkpoints true", "entries>-1 1000 - true", "entries>1000 1000 - true", "entries>2001 1000 - true", "consents>null 1000 true", "consents>c0999 1000 true"]);
  });

  it("a ranged export holds entries only: no checkpoints, no consent rows", async () => {
    const entries = asEntries(5);
    const store = arrayStore(entries, [checkpointAt(5n)], [consentRow("c1")]);
    const from = entries[3]!.recordedAt;
    const lines = (await text(exportLedger(store, { format: "jsonl", from }))).trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual(["4", "5"]);
    expect(store.reads).toEqual([`entries>-1 1000 ${from.toISOString()} true`]);
  });

  it("an empty ledger exports nothing", async () => {
    expect(await text(exportLedger(arrayStore([], [], []), { format: "jsonl" }))).toBe("");
  });
});

describe("the CSV export", () => {
  it("is a header and one CRLF row per entry, pairs as scope/purpose, and no checkpoints or consent rows", async () => {
    const entries = asEntries(2);
    const store = arrayStore(entries, [checkpointAt(1n)], [consentRow("c1")]);
    const rows = (await text(exportLedger(store, { format: "csv" }))).split("\r\n");
    expect(rows).toHaveLength(4);
    expect(rows[0]).toBe(CSV_COLUMNS.join(","));
    expect(rows[1]).toBe([`"1"`, `"c0"`, `"granted"`, `"bank-a"`, `"cust-1"`, `"link-1"`, `"psid-1"`, `"balance:read"`, `"account_servicing"`, `"balance:read/account_servicing"`, `"${entries[0]!.expiresAt.toISOString()}"`, `"customer"`, `"{""ip"":""192.0.2.1""}"`, `"${entries[0]!.recordedAt.toISOString()}"`, `"${entries[0]!.prevHash}"`, `"${entries[0]!.hash}"`].join(","));
    expect(rows[3]).toBe("");
    expect(store.reads).toEqual(["entries>-1 1000 - true"]);
  });
});

describe("a failing export", () => {
  it("ends the stream with the store's error", async () => {
    const store = { ...arrayStore([], [], []), snapshot: () => Promise.reject(new Error("snapshot too old")) };
    await expect(text(exportLedger(store, { format: "jsonl" }))).rejects.toThrow("snapshot too old");
  });

  it("stops reading when its reader goes away", async () => {
    const store = arrayStore(asEntries(5_000), [], []);
    const out = exportLedger(store, { format: "jsonl" });
    for await (const _ of out) {
      out.destroy();
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    // It gave up: the snapshot (a database transaction) is closed, and the rest was never read.
    expect(store.snapshots.open).toBe(0);
    expect(store.reads.filter((r) => r.startsWith("entries")).length).toBeLessThan(5);
  });
});
