-- CreateTable
CREATE TABLE "ledger_signing_key" (
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL DEFAULT 'EdDSA',
    "publicJwk" JSONB NOT NULL,
    "privateJwkSealed" TEXT NOT NULL,
    "activatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ledger_signing_key_pkey" PRIMARY KEY ("kid")
);

-- CreateIndex
CREATE INDEX "ledger_signing_key_activatedAt_idx" ON "ledger_signing_key"("activatedAt");

-- Signed checkpoints are append-only, like the ledger they sign.
CREATE FUNCTION ledger_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_checkpoint is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_checkpoint_no_update_delete
  BEFORE UPDATE OR DELETE ON "ledger_checkpoint"
  FOR EACH ROW EXECUTE FUNCTION ledger_checkpoint_append_only();

CREATE TRIGGER ledger_checkpoint_no_truncate
  BEFORE TRUNCATE ON "ledger_checkpoint"
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_checkpoint_append_only();

-- Ledger signing keys are never deleted and their public half never changes. Only the sealed
-- private half may be re-sealed (master key rotation).
CREATE FUNCTION ledger_signing_key_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.kid = OLD.kid AND NEW.alg = OLD.alg AND NEW."publicJwk" = OLD."publicJwk"
     AND NEW."activatedAt" = OLD."activatedAt" THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'ledger_signing_key is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_signing_key_no_update_delete
  BEFORE UPDATE OR DELETE ON "ledger_signing_key"
  FOR EACH ROW EXECUTE FUNCTION ledger_signing_key_append_only();

CREATE TRIGGER ledger_signing_key_no_truncate
  BEFORE TRUNCATE ON "ledger_signing_key"
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_signing_key_append_only();
