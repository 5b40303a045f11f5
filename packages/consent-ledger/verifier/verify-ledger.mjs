#!/usr/bin/env node
// Stand-alone verifier for a link-broker consent ledger export, written from LEDGER-FORMAT.md.
// Needs Node 20+ and nothing else: no broker, no database, no packages.
//
//   node verify-ledger.mjs export.jsonl keys.json [anchored-checkpoints.jsonl]
//
// keys.json is GET /ledger/keys.json. Prints the result as one JSON line; exits 0 when the
// ledger verifies, 1 when it does not, 2 when the input cannot be read.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

const GENESIS = "0".repeat(64);
const SKEW = 300; // seconds a signature's iat may lie outside its key's active window

// RFC 8785 (JCS): keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string forms.
function jcs(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(",")}}`;
}

// An entry's hash: SHA-256 (hex) of prev_hash followed by the JCS of its fields minus the hashes.
function entryHash(e) {
  const { prev_hash, hash, ...fields } = e;
  return createHash("sha256").update(prev_hash + jcs(fields), "utf8").digest("hex");
}

// A compact JWS checked against the ledger keys; returns its payload, or null.
function verifyJws(jws, keys, typ) {
  const [h, p, s] = String(jws).split(".");
  let header, payload;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString());
    payload = JSON.parse(Buffer.from(p, "base64url").toString());
  } catch {
    return null;
  }
  const key = keys.find((k) => k.kid === header.kid);
  if (!key || header.typ !== typ || header.alg !== key.alg || !["EdDSA", "ES256"].includes(key.alg)) return null;
  const pub = createPublicKey({ key, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s ?? "", "base64url");
  const ok = key.alg === "EdDSA" ? verify(null, data, pub, sig) : verify("sha256", data, { key: pub, dsaEncoding: "ieee-p1363" }, sig);
  if (!ok || typeof payload.iat !== "number") return null;
  const from = Date.parse(key.activated_at) / 1000 - SKEW;
  const until = key.retired_at === null ? Infinity : Date.parse(key.retired_at) / 1000 + SKEW;
  return payload.iat >= from && payload.iat <= until ? { kid: key.kid, payload } : null;
}

// The pairs of a format 1 entry (written before consents were pairs; it has no `pairs` member):
// each scope with its default purpose when that purpose was consented to, else with every
// consented purpose; sorted by scope, then purpose (code units).
const DEFAULT_PURPOSE = { "balance:read": "account_servicing", "transactions:read": "account_servicing", "alerts:fraud": "fraud_alerts", "support:chat": "customer_support" };
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
function legacyPairs(scopes, purposes) {
  const out = new Map();
  for (const scope of scopes) {
    const d = Object.hasOwn(DEFAULT_PURPOSE, scope) ? DEFAULT_PURPOSE[scope] : undefined;
    for (const purpose of d !== undefined && purposes.includes(d) ? [d] : purposes) out.set(`${scope}\u0000${purpose}`, { scope, purpose });
  }
  return [...out.values()].sort((a, b) => cmp(a.scope, b.scope) || cmp(a.purpose, b.purpose));
}

const readLines = (file) => readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));

const [exportFile, keysFile, anchorFile] = process.argv.slice(2);
let lines, keys, anchored;
try {
  if (!exportFile || !keysFile) throw new Error("usage: verify-ledger.mjs export.jsonl keys.json [checkpoints.jsonl]");
  lines = readLines(exportFile);
  keys = JSON.parse(readFileSync(keysFile, "utf8")).keys;
  anchored = anchorFile ? readLines(anchorFile) : [];
} catch (err) {
  process.stderr.write(`verify-ledger: ${err.message}\n`);
  process.exit(2);
}

const entries = lines.filter((l) => l.type === undefined);
const rows = lines.filter((l) => l.type === "consent");
// Checkpoints by seq (numerically), each distinct JWS once.
const seqOf = (s) => (typeof s === "string" && /^\d{1,20}$/.test(s) ? BigInt(s) : -1n);
const checkpoints = [...new Map([...lines, ...anchored].filter((l) => l.type === "checkpoint").map((c) => [c.jws, c])).values()].sort((a, b) =>
  seqOf(a.seq) < seqOf(b.seq) ? -1 : seqOf(a.seq) > seqOf(b.seq) ? 1 : 0,
);
const signed = (c) => {
  const v = verifyJws(c.jws, keys, "ledger-checkpoint+jwt");
  return v !== null && v.kid === c.kid && v.payload.seq === c.seq && v.payload.head_hash === c.head_hash;
};

let prev = GENESIS, last = null, checked = 0, verified = 0, next = 0, bad = null;
const replayed = new Map(); // consent id -> its projection, replayed from the chain
const fail = (seq, problem, consent_id) => (bad = { seq: String(seq), problem, consent_id });

// The walk; returns at the first failure.
function walk() {
  for (const e of entries) {
    const seq = seqOf(e.seq);
    // A checkpoint whose seq the walk passed without meeting its entry.
    if (next < checkpoints.length && seqOf(checkpoints[next].seq) < seq) {
      const c = checkpoints[next];
      return fail(seqOf(c.seq), signed(c) ? "missing_entry" : "checkpoint_signature");
    }
    checked++;
    if ((last !== null && seq <= last) || e.prev_hash !== prev) return fail(seq, "broken_link");
    if (entryHash(e) !== e.hash) return fail(seq, "hash_mismatch");
    prev = e.hash;
    last = seq;
    const before = replayed.get(e.consent_id);
    const status = e.action === "withdrawn" ? "withdrawn" : e.action === "expired" ? "expired" : "active";
    replayed.set(e.consent_id, {
      id: e.consent_id, client_id: e.client_id, subject: e.subject, link_id: e.link_id, psid: e.psid, status, scopes: e.scopes, purposes: e.purposes,
      pairs: "pairs" in e ? e.pairs : legacyPairs(e.scopes ?? [], e.purposes ?? []),
      expires_at: e.expires_at, granted_at: before ? before.granted_at : e.recorded_at, updated_at: e.recorded_at, last_seq: e.seq,
    });
    for (; next < checkpoints.length && seqOf(checkpoints[next].seq) === seq; next++) {
      const c = checkpoints[next];
      if (!signed(c)) return fail(seq, "checkpoint_signature");
      if (c.head_hash !== e.hash) return fail(seq, "checkpoint_mismatch");
      verified++;
    }
  }
  if (next < checkpoints.length) {
    const c = checkpoints[next];
    return fail(seqOf(c.seq), signed(c) ? "missing_entry" : "checkpoint_signature");
  }
  // The projection rows (when the export has them) must equal the state replayed from the chain.
  if (rows.length > 0) {
    const fields = ["id", "client_id", "subject", "link_id", "psid", "status", "scopes", "purposes", "pairs", "expires_at", "granted_at", "updated_at", "last_seq"];
    let first = null;
    const mismatch = (id, seq) => {
      if (!first || seq < first.seq || (seq === first.seq && id < first.id)) first = { id, seq };
    };
    for (const row of rows) {
      const r = replayed.get(row.id);
      if (!r || fields.some((f) => jcs(row[f]) !== jcs(r[f]))) mismatch(row.id, seqOf((r ?? row).last_seq) < 0n ? 0n : seqOf((r ?? row).last_seq));
    }
    const ids = new Set(rows.map((r) => r.id));
    for (const [id, r] of replayed) if (!ids.has(id)) mismatch(id, seqOf(r.last_seq));
    if (first) fail(first.seq, "projection_mismatch", first.id);
  }
}
walk();

const result = {
  ok: bad === null,
  checked,
  head_seq: last === null ? null : String(last),
  head_hash: prev,
  checkpoints_verified: verified,
  first_bad_seq: bad ? bad.seq : null,
  problem: bad ? bad.problem : null,
  ...(bad?.consent_id !== undefined ? { consent_id: bad.consent_id } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : 1);
