// What `verify` checks, walked over chains built in memory: each way a chain, a checkpoint or a
// projection row can be rewritten is named with its seq, and an honest ledger passes. The same
// walk runs on the database (test/tamper.test.ts) and on an export (verify-export.test.ts).
import { describe, expect, it } from "vitest";
import { ChainAudit, type CheckpointRecord, type ProjectedConsent, ProjectionCheck, replayEntry, sameProjection } from "./ledger-audit.ts";
import { type ChainEntry, GENESIS_HASH } from "./hash-chain.ts";
import type { LedgerKeySet } from "./ledger-keys.ts";
import { buildChain, chainKeys, chainMinute, rehashFrom } from "./testing.ts";

const at = chainMinute;

function walk(keys: LedgerKeySet, entries: ChainEntry[], checkpoints: CheckpointRecord[] = [], options: { trackConsents?: boolean } = {}) {
  const audit = new ChainAudit(keys, checkpoints, options);
  let pushed = 0;
  for (const e of entries) {
    if (!audit.push(e)) break;
    pushed++;
  }
  const ended = pushed === entries.length ? audit.end() : false;
  return { audit, pushed, ended, result: audit.result() };
}

describe("the chain walk", () => {
  it("an honest chain with gaps in its seqs and checkpoints given in any order, twice over, verifies", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, { action: "renewed" }, { action: "withdrawn" }], [1n, 2n, 5n]);
    const cp1 = await checkpoint(entries[0]!);
    const cp5 = await checkpoint(entries[2]!);
    const { result, ended } = walk(keys, entries, [cp5, cp1, cp5]);
    expect(ended).toBe(true);
    expect(result).toEqual({ ok: true, checked: 3, headSeq: "5", headHash: entries[2]!.hash, checkpointsVerified: 2, firstBadSeq: null, problem: null });
    expect(result).not.toHaveProperty("consentId");
  });

  it("two different checkpoints of one seq are both verified", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, {}]);
    const a = await checkpoint(entries[1]!);
    const b = await checkpoint(entries[1]!, { iat: Math.floor(chainMinute(2).getTime() / 1000) });
    expect(a.jws).not.toBe(b.jws);
    expect(walk(keys, entries, [a, b]).result).toMatchObject({ ok: true, checkpointsVerified: 2 });
  });

  it("takes seqs as bigints or as decimal strings", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}]);
    const asStrings = entries.map((e) => ({ ...e, seq: e.seq.toString() }));
    expect(walk(keys, asStrings).result).toMatchObject({ ok: true, checked: 2, headSeq: "2" });
  });

  it("an empty ledger verifies, with the genesis hash as its head", async () => {
    const { keys } = await chainKeys();
    expect(walk(keys, []).result).toEqual({ ok: true, checked: 0, headSeq: null, headHash: GENESIS_HASH, checkpointsVerified: 0, firstBadSeq: null, problem: null });
  });

  it("an entry whose fields were changed: hash_mismatch at its seq, the entries before it counted good", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}, {}]);
    entries[1] = { ...entries[1]!, scopes: ["balance:read", "transactions:read"] };
    const { result, pushed } = walk(keys, entries);
    expect(pushed).toBe(1);
    expect(result).toEqual({ ok: false, checked: 2, headSeq: "1", headHash: entries[0]!.hash, checkpointsVerified: 0, firstBadSeq: "2", problem: "hash_mismatch" });
  });

  it("an entry whose fields cannot be hashed (a date that is not one) fails as hash_mismatch, not with an exception", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}]);
    entries[1] = { ...entries[1]!, recordedAt: new Date(Number.NaN) };
    expect(walk(keys, entries).result).toMatchObject({ ok: false, firstBadSeq: "2", problem: "hash_mismatch" });
  });

  it("an entry that does not link to the one before (deleted, inserted or reordered): broken_link", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}, {}]);
    // Deleted: the third now follows the first.
    expect(walk(keys, [entries[0]!, entries[2]!]).result).toMatchObject({ ok: false, checked: 2, headSeq: "1", firstBadSeq: "3", problem: "broken_link" });
    // The first entry must link to the genesis hash.
    expect(walk(keys, entries.slice(1)).result).toMatchObject({ ok: false, checked: 1, headSeq: null, headHash: GENESIS_HASH, firstBadSeq: "2", problem: "broken_link" });
  });

  it("a seq that does not increase fails even when the hashes link: broken_link", async () => {
    const { keys } = await chainKeys();
    // Rehashed so that only the seq is wrong: the same seq twice, then a seq going back.
    const same = rehashFrom(buildChain([{}, {}, {}], [1n, 2n, 2n]), 0);
    expect(walk(keys, same).result).toMatchObject({ ok: false, checked: 3, headSeq: "2", firstBadSeq: "2", problem: "broken_link" });
    const back = rehashFrom(buildChain([{}, {}, {}], [1n, 3n, 2n]), 0);
    expect(walk(keys, back).result).toMatchObject({ ok: false, checked: 3, headSeq: "3", firstBadSeq: "2", problem: "broken_link" });
  });

  it("stops at the first failure: later entries are not read and end() reports the same failure", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}, {}]);
    entries[0] = { ...entries[0]!, subject: "cust-2" };
    const audit = new ChainAudit(keys, []);
    expect(audit.push(entries[0]!)).toBe(false);
    expect(audit.push(entries[1]!)).toBe(false);
    expect(audit.end()).toBe(false);
    expect(audit.result()).toMatchObject({ checked: 1, firstBadSeq: "1", problem: "hash_mismatch" });
  });
});

describe("checkpoints", () => {
  it("history rewritten and rehashed under a checkpoint: checkpoint_mismatch at the checkpoint's seq", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, {}, {}]);
    const cp = await checkpoint(entries[1]!);
    const forged = rehashFrom([entries[0]!, { ...entries[1]!, scopes: ["balance:read", "transactions:read"] }, entries[2]!], 1);
    expect(walk(keys, forged, [cp]).result).toEqual({ ok: false, checked: 2, headSeq: "2", headHash: forged[1]!.hash, checkpointsVerified: 0, firstBadSeq: "2", problem: "checkpoint_mismatch" });
  });

  it("a checkpoint whose record was re-pointed at the rewritten head, its signature left: checkpoint_signature", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, {}]);
    const cp = await checkpoint(entries[1]!);
    const forged = rehashFrom([entries[0]!, { ...entries[1]!, action: "renewed" }], 1);
    expect(walk(keys, forged, [{ ...cp, headHash: forged[1]!.hash }]).result).toMatchObject({ ok: false, firstBadSeq: "2", problem: "checkpoint_signature" });
  });

  it("a checkpoint signed by a key the ledger never published: checkpoint_signature", async () => {
    const { keys } = await chainKeys();
    const other = await chainKeys();
    const entries = buildChain([{}]);
    const forged = await other.checkpoint(entries[0]!);
    expect(walk(keys, entries, [{ ...forged, kid: keys.keys[0]!.kid }]).result).toMatchObject({ ok: false, checkpointsVerified: 0, firstBadSeq: "1", problem: "checkpoint_signature" });
  });

  it("a checkpoint record that disagrees with what was signed (seq, head or kid): checkpoint_signature", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, {}]);
    const cp = await checkpoint(entries[1]!);
    // Signed for seq 2, recorded as seq 1 (where it would vouch for the first entry's hash).
    const asFirst = await checkpoint(entries[0]!, { seq: "2" });
    expect(walk(keys, entries, [asFirst]).result).toMatchObject({ ok: false, firstBadSeq: "1", problem: "checkpoint_signature" });
    const otherHead = await checkpoint(entries[1]!, { head_hash: entries[0]!.hash });
    expect(walk(keys, entries, [otherHead]).result).toMatchObject({ ok: false, firstBadSeq: "2", problem: "checkpoint_signature" });
    expect(walk(keys, entries, [{ ...cp, kid: "ledger-other" }]).result).toMatchObject({ ok: false, firstBadSeq: "2", problem: "checkpoint_signature" });
    expect(walk(keys, entries, [cp]).result).toMatchObject({ ok: true, checkpointsVerified: 1 });
  });

  it("a checkpoint of a seq the chain skips: missing_entry when signed, checkpoint_signature when forged", async () => {
    const { keys, checkpoint } = await chainKeys();
    const full = buildChain([{}, {}, {}]);
    const cp2 = await checkpoint(full[1]!);
    // The entry at seq 2 deleted and the chain relinked around it.
    const cut = rehashFrom([full[0]!, full[2]!], 1);
    const skipped = walk(keys, cut, [cp2]);
    // The entry after the gap is refused at once: the caller stops reading there.
    expect(skipped.pushed).toBe(1);
    expect(skipped.result).toEqual({ ok: false, checked: 1, headSeq: "1", headHash: cut[0]!.hash, checkpointsVerified: 0, firstBadSeq: "2", problem: "missing_entry" });
    expect(walk(keys, cut, [{ ...cp2, jws: `${cp2.jws.slice(0, -4)}AAAA` }]).result).toMatchObject({ ok: false, firstBadSeq: "2", problem: "checkpoint_signature" });
  });

  it("a checkpoint beyond the last entry (entries cut off the end): missing_entry from end()", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}, {}, {}]);
    const cp3 = await checkpoint(entries[2]!);
    const { result, pushed, ended } = walk(keys, entries.slice(0, 2), [cp3]);
    expect([pushed, ended]).toEqual([2, false]);
    expect(result).toEqual({ ok: false, checked: 2, headSeq: "2", headHash: entries[1]!.hash, checkpointsVerified: 0, firstBadSeq: "3", problem: "missing_entry" });
    expect(walk(keys, [], [cp3]).result).toMatchObject({ ok: false, checked: 0, firstBadSeq: "3", problem: "missing_entry" });
  });

  it("many checkpoints in two sorted runs (the database's, then an anchoring file's) are merged by seq", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain(Array.from({ length: 80 }, () => ({})));
    const stored = await Promise.all(entries.map((e) => checkpoint(e)));
    // The anchoring file's copies were signed at another moment: other signatures, the same heads.
    const anchored = await Promise.all(entries.map((e) => checkpoint(e, { iat: Math.floor(chainMinute(90).getTime() / 1000) })));
    const shuffled = [...stored].sort((a, b) => (Number(a.seq) * 37) % 80 - (Number(b.seq) * 37) % 80);
    for (const given of [[...stored, ...anchored], [...anchored].reverse().concat(stored), shuffled.concat(anchored)]) {
      expect(walk(keys, entries, given).result).toMatchObject({ ok: true, checked: 80, checkpointsVerified: 160 });
    }
  });

  it("a checkpoint whose seq is not a number sorts first and fails its signature", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain([{}]);
    const cp = await checkpoint(entries[0]!);
    for (const seq of ["one", "1x", "x1", "", " 1"]) expect(walk(keys, entries, [{ ...cp, seq }]).result).toMatchObject({ ok: false, checked: 0, problem: "checkpoint_signature" });
  });

  it("orders checkpoints by seq as numbers, whatever order they come in", async () => {
    const { keys, checkpoint } = await chainKeys();
    const entries = buildChain(Array.from({ length: 12 }, () => ({})));
    const [cp2, cp9, cp10, cp12] = await Promise.all([1, 8, 9, 11].map((i) => checkpoint(entries[i]!)));
    for (const order of [
      [cp2, cp9, cp10, cp12],
      [cp12, cp10, cp9, cp2],
      [cp10, cp2, cp12, cp9],
      [cp9, cp12, cp2, cp10],
    ]) expect(walk(keys, entries, order as CheckpointRecord[]).result).toMatchObject({ ok: true, checked: 12, headSeq: "12", checkpointsVerified: 4 });
  });
});

describe("replaying consents", () => {
  it("keeps each consent's state after its newest entry, its grant time from its first", async () => {
    const { keys } = await chainKeys();
    const c2 = { consentId: "c2", linkId: null, psid: null, pairs: null, scopes: ["alerts:fraud", "balance:read"], purposes: ["fraud_alerts"] };
    const entries = buildChain([
      { consentId: "c1" },
      c2,
      { consentId: "c1", action: "renewed", expiresAt: at(2 * 60 * 24) },
      { consentId: "c1", action: "withdrawn", actor: "bank", expiresAt: at(2 * 60 * 24) },
      { ...c2, action: "expired" },
    ]);
    const { audit, result } = walk(keys, entries, [], { trackConsents: true });
    expect(result.ok).toBe(true);
    expect(audit.consents!.get("c1")).toEqual({
      id: "c1",
      clientId: "bank-a",
      subject: "cust-1",
      linkId: "link-1",
      psid: "psid-1",
      status: "withdrawn",
      scopes: ["balance:read"],
      purposes: ["account_servicing"],
      pairs: [{ scope: "balance:read", purpose: "account_servicing" }],
      expiresAt: at(2 * 60 * 24),
      grantedAt: at(0),
      updatedAt: at(3),
      lastSeq: "4",
    });
    // A format 1 consent: its pairs are derived from its scopes and purposes.
    expect(audit.consents!.get("c2")).toMatchObject({ status: "expired", linkId: null, psid: null, grantedAt: at(1), updatedAt: at(4), lastSeq: "5" });
    expect(audit.consents!.get("c2")!.pairs).toEqual([
      { scope: "alerts:fraud", purpose: "fraud_alerts" },
      { scope: "balance:read", purpose: "fraud_alerts" },
    ]);
    expect(new ChainAudit(keys, []).consents).toBeNull();
  });

  it("replayEntry copies lists, so a later change to the entry does not reach the projection", () => {
    const [e] = buildChain([{ action: "renewed" }]);
    const p = replayEntry(undefined, e!);
    expect(p).toMatchObject({ status: "active", grantedAt: at(0), lastSeq: "1" });
    (e!.scopes as string[]).push("transactions:read");
    (e!.purposes as string[]).push("advertising");
    expect(p.scopes).toEqual(["balance:read"]);
    expect(p.purposes).toEqual(["account_servicing"]);
  });
});

describe("the projection check", () => {
  const row = (): ProjectedConsent => replayEntry(undefined, buildChain([{}])[0]!);

  it("a row equal to its replay passes, pairs compared whatever their members' order", () => {
    const r = row();
    expect(sameProjection(r, row())).toBe(true);
    expect(sameProjection({ ...r, pairs: [{ purpose: "account_servicing", scope: "balance:read" }] }, r)).toBe(true);
  });

  it("every field of the row is compared", () => {
    const r = row();
    const edits: Partial<ProjectedConsent>[] = [
      { id: "c2" },
      { clientId: "bank-b" },
      { subject: "cust-2" },
      { linkId: null },
      { linkId: "link-2" },
      { psid: null },
      { status: "withdrawn" },
      { scopes: ["balance:read", "transactions:read"] },
      { scopes: ["transactions:read"] },
      { scopes: [] },
      { purposes: ["advertising"] },
      { purposes: ["account_servicing", "advertising"] },
      { pairs: [{ scope: "balance:read", purpose: "advertising" }] },
      { pairs: [] },
      { pairs: null },
      { expiresAt: at(60 * 24 + 1) },
      { grantedAt: at(-1) },
      { updatedAt: at(1) },
      { lastSeq: "2" },
    ];
    for (const edit of edits) expect([edit, sameProjection({ ...r, ...edit }, r)]).toEqual([edit, false]);
  });

  it("lists are compared member by member, in order", () => {
    const two = { ...row(), scopes: ["alerts:fraud", "balance:read"], purposes: ["account_servicing", "fraud_alerts"] };
    expect(sameProjection({ ...two }, two)).toBe(true);
    for (const edit of [{ scopes: ["alerts:fraud", "transactions:read"] }, { scopes: ["balance:read", "alerts:fraud"] }, { purposes: ["account_servicing", "advertising"] }]) expect(sameProjection({ ...two, ...edit }, two)).toBe(false);
  });

  it("pairs that cannot be canonicalised differ, rather than throw", () => {
    const r = row();
    expect(sameProjection({ ...r, pairs: [{ scope: "balance:read", purpose: Number.NaN }] }, r)).toBe(false);
  });

  it("keeps the first mismatch by seq, then by consent id; a row or a replay alone is a mismatch", () => {
    const check = new ProjectionCheck();
    check.compare(row(), row());
    expect(check.first).toBeNull();
    check.compare({ ...row(), id: "c9", lastSeq: "7" }, undefined);
    expect(check.first).toEqual({ seq: 7n, consentId: "c9" });
    check.compare(undefined, { ...row(), id: "c8", lastSeq: "7" });
    expect(check.first).toEqual({ seq: 7n, consentId: "c8" });
    check.mismatch("c9", 7n);
    check.mismatch("c7", 8n);
    expect(check.first).toEqual({ seq: 7n, consentId: "c8" });
    check.mismatch("c9", 6n);
    expect(check.first).toEqual({ seq: 6n, consentId: "c9" });
    // A row claiming a seq that is not a number sorts before every entry.
    check.compare({ ...row(), id: "c5", lastSeq: "x" }, undefined);
    expect(check.first).toEqual({ seq: 0n, consentId: "c5" });
    // Multi-digit seqs are read as numbers; anything else, however close, is 0.
    const named = (lastSeq: string) => {
      const c = new ProjectionCheck();
      c.compare({ ...row(), lastSeq }, undefined);
      return c.first?.seq;
    };
    expect([named("12"), named("007"), named("7x"), named("x7"), named(""), named("1".repeat(21))]).toEqual([12n, 7n, 0n, 0n, 0n, 0n]);
  });

  it("is reported only when the chain itself passed", async () => {
    const { keys } = await chainKeys();
    const entries = buildChain([{}, {}]);
    const check = new ProjectionCheck();
    check.mismatch("c1", 1n);
    const good = new ChainAudit(keys, []);
    for (const e of entries) good.push(e);
    good.end();
    good.projectionFailed(new ProjectionCheck());
    expect(good.result().ok).toBe(true);
    good.projectionFailed(check);
    expect(good.result()).toMatchObject({ ok: false, checked: 2, headSeq: "2", firstBadSeq: "1", problem: "projection_mismatch", consentId: "c1" });

    const bad = new ChainAudit(keys, []);
    bad.push({ ...entries[0]!, hash: "0".repeat(64) });
    bad.projectionFailed(check);
    expect(bad.result()).toMatchObject({ problem: "hash_mismatch", firstBadSeq: "1" });
    expect(bad.result()).not.toHaveProperty("consentId");
  });
});
