-- AlterTable
ALTER TABLE "client" ADD COLUMN     "eventsUri" TEXT;

-- CreateTable
CREATE TABLE "consent_event" (
    "jti" TEXT NOT NULL,
    "position" BIGSERIAL NOT NULL,
    "key" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "consentId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "ledgerSeq" BIGINT NOT NULL,
    "set" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "push" TEXT NOT NULL,
    "deliveredAt" TIMESTAMP(3),
    "lastError" TEXT,
    "ackedAt" TIMESTAMP(3),

    CONSTRAINT "consent_event_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "event_cursor" (
    "name" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,

    CONSTRAINT "event_cursor_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE UNIQUE INDEX "consent_event_position_key" ON "consent_event"("position");

-- CreateIndex
CREATE UNIQUE INDEX "consent_event_key_key" ON "consent_event"("key");

-- CreateIndex
CREATE INDEX "consent_event_clientId_ackedAt_position_idx" ON "consent_event"("clientId", "ackedAt", "position");

-- CreateIndex
CREATE INDEX "consent_event_consentId_position_idx" ON "consent_event"("consentId", "position");

-- CreateIndex
CREATE INDEX "consent_event_push_createdAt_idx" ON "consent_event"("push", "createdAt");

-- CreateIndex
CREATE INDEX "consent_event_createdAt_idx" ON "consent_event"("createdAt");
