import { Type, type Static } from "typebox";

const Reason = Type.Union([Type.Literal("active"), Type.Literal("no_consent"), Type.Literal("withdrawn"), Type.Literal("expired"), Type.Literal("scope_not_granted"), Type.Literal("purpose_forbidden")]);
const Id = Type.String({ minLength: 1, maxLength: 200 });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
// A nullable string as `type: ["string", "null"]`, which the serializer writes without trying
// each branch of a union (the check reply is the hot path).
const NullableString = (options: { format?: string } = {}) => Type.Unsafe<string | null>({ type: ["string", "null"], ...options });

export const CheckBody = Type.Object(
  {
    link_id: Type.Optional(Id),
    client_id: Type.Optional(Id),
    subject: Type.Optional(Type.String({ maxLength: 512 })),
    psid: Type.Optional(Id),
    scope: Type.String({ minLength: 1, maxLength: 100 }),
    purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type CheckBody = Static<typeof CheckBody>;

export const CheckReply = Type.Object({
  allowed: Type.Boolean(),
  consent_id: NullableString(),
  expires_at: NullableString({ format: "date-time" }),
  reason: Reason,
});

const Pair = Type.Object({ scope: Type.String(), purpose: Type.String() });

export const Consent = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  subject: Type.String(),
  link_id: Nullable(Type.String()),
  psid: Nullable(Type.String()),
  status: Type.String(),
  pairs: Type.Array(Pair, { description: "Exactly the (scope, purpose) pairs granted; check allows nothing else." }),
  scopes: Type.Array(Type.String()),
  purposes: Type.Array(Type.String()),
  expires_at: Type.String(),
  granted_at: Type.String(),
  updated_at: Type.String(),
  last_seq: Type.String(),
});

export const Entry = Type.Object({
  seq: Type.String(),
  consent_id: Type.String(),
  action: Type.String(),
  client_id: Type.String(),
  subject: Type.String(),
  link_id: Nullable(Type.String()),
  psid: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  purposes: Type.Array(Type.String()),
  pairs: Type.Optional(Type.Array(Pair, { description: "Ledger format 2 entries only (hashed); absent on entries written before consents were pairs (LEDGER-FORMAT.md)." })),
  expires_at: Type.String(),
  actor: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  recorded_at: Type.String(),
  prev_hash: Type.String(),
  hash: Type.String(),
});

export const ConsentsQuery = Type.Object(
  {
    client_id: Type.Optional(Id),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    psid: Type.Optional(Id),
    link_id: Type.Optional(Id),
    status: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("withdrawn"), Type.Literal("expired")])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type ConsentsQuery = Static<typeof ConsentsQuery>;

export const ConsentsReply = Type.Object({ items: Type.Array(Consent), next_cursor: Nullable(Type.String()) });
export const ConsentReply = Type.Object({ consent: Consent, history: Type.Array(Entry) });
export const ReceiptReply = Type.Object({
  consent_id: Type.String(),
  receipt: Type.String({ description: "compact JWS (EdDSA, a ledger key of /ledger/keys.json), typ consent-receipt+jwt" }),
  receipt_url: Type.String({ description: "the customer's readable receipt page (a capability URL)" }),
});
export const IdParams = Type.Object({ id: Id });

const Problem = Type.Union([Type.Literal("hash_mismatch"), Type.Literal("broken_link"), Type.Literal("missing_entry"), Type.Literal("checkpoint_signature"), Type.Literal("checkpoint_mismatch"), Type.Literal("projection_mismatch")]);

export const VerifyReply = Type.Object({
  ok: Type.Boolean(),
  checked: Type.Integer({ description: "entries read, the bad one included" }),
  head_seq: Nullable(Type.String({ description: "the last entry that verified" })),
  head_hash: Type.String(),
  checkpoints_verified: Type.Integer(),
  first_bad_seq: Nullable(Type.String()),
  problem: Nullable(Problem),
  consent_id: Type.Optional(Type.String({ description: "with projection_mismatch: the consent whose row differs from its chain" })),
});

const LedgerKey = Type.Object(
  {
    kid: Type.String(),
    alg: Type.String(),
    kty: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    use: Type.Optional(Type.String()),
    activated_at: Type.String({ format: "date-time" }),
    retired_at: Nullable(Type.String({ format: "date-time" })),
  },
  { description: "a public JWK with when it started and stopped signing" },
);
export const LedgerKeysReply = Type.Object({ keys: Type.Array(LedgerKey) });

export const ExportQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal("jsonl"), Type.Literal("csv")], { default: "jsonl" })),
    from: Type.Optional(Type.String({ format: "date-time" })),
    to: Type.Optional(Type.String({ format: "date-time" })),
  },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String(), request_id: Type.String() });
