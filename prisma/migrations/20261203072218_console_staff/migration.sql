-- CreateEnum
CREATE TYPE "StaffRole" AS ENUM ('auditor', 'admin');

-- AlterTable
ALTER TABLE "staff" DROP COLUMN "totpLastUsedStep",
DROP COLUMN "totpSecretSealed",
ADD COLUMN     "passwordChangeRequired" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "role" "StaffRole" NOT NULL;

-- AlterTable
ALTER TABLE "staff_session" ADD COLUMN     "lastSeenAt" TIMESTAMP(3) NOT NULL,
ADD COLUMN     "secondFactorAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "staff_audit_event" (
    "seq" BIGSERIAL NOT NULL,
    "staffId" TEXT,
    "email" TEXT,
    "action" TEXT NOT NULL,
    "target" TEXT,
    "detail" JSONB NOT NULL DEFAULT '{}',
    "requestId" TEXT,
    "ip" TEXT,
    "at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "staff_audit_event_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE INDEX "staff_audit_event_staffId_at_idx" ON "staff_audit_event"("staffId", "at");

-- CreateIndex
CREATE INDEX "staff_audit_event_at_idx" ON "staff_audit_event"("at");

-- The staff audit log is append-only, like the ledger: the database refuses edits and deletes.
CREATE FUNCTION staff_audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'staff_audit_event is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER staff_audit_event_no_update_delete
  BEFORE UPDATE OR DELETE ON "staff_audit_event"
  FOR EACH ROW EXECUTE FUNCTION staff_audit_event_append_only();

CREATE TRIGGER staff_audit_event_no_truncate
  BEFORE TRUNCATE ON "staff_audit_event"
  FOR EACH STATEMENT EXECUTE FUNCTION staff_audit_event_append_only();
