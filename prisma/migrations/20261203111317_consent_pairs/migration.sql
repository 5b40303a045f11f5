-- AlterTable
ALTER TABLE "consent" ADD COLUMN     "pairs" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "ledger_entry" ADD COLUMN     "pairs" JSONB;

-- A consent becomes a set of (scope, purpose) pairs (ledger format 2). Existing consents get the
-- pairs of the format 1 rule (LEDGER-FORMAT.md, "Ledger formats"; policy.ts legacyPairs): each
-- scope with its default purpose when that purpose was consented to, else with every consented
-- purpose (what format 1 allowed, so nothing is granted that was not). Sorted by scope, then
-- purpose, in code-unit order (COLLATE "C"). Ledger entries are not touched: those written
-- before this migration keep `pairs` NULL and hash as they were recorded.
UPDATE "consent" AS c SET "pairs" = COALESCE((
  SELECT jsonb_agg(jsonb_build_object('scope', x.s, 'purpose', x.p) ORDER BY x.s COLLATE "C", x.p COLLATE "C")
  FROM (
    SELECT DISTINCT s.s, p.p
    FROM unnest(c.scopes) AS s(s)
    CROSS JOIN LATERAL (SELECT CASE s.s
        WHEN 'balance:read' THEN 'account_servicing'
        WHEN 'transactions:read' THEN 'account_servicing'
        WHEN 'alerts:fraud' THEN 'fraud_alerts'
        WHEN 'support:chat' THEN 'customer_support'
      END AS d) AS d
    CROSS JOIN unnest(c.purposes) AS p(p)
    WHERE p.p = d.d OR NOT (COALESCE(d.d, '') = ANY (c.purposes))
  ) AS x
), '[]'::jsonb);
