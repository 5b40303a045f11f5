-- CreateEnum
CREATE TYPE "AttemptState" AS ENUM ('started', 'authenticated', 'second_factor_passed', 'consented', 'code_issued', 'declined', 'failed', 'expired');

-- CreateEnum
CREATE TYPE "LinkStatus" AS ENUM ('active', 'unlinked');

-- CreateEnum
CREATE TYPE "LedgerAction" AS ENUM ('granted', 'renewed', 'withdrawn', 'expired');

-- CreateTable
CREATE TABLE "client" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "secretHash" TEXT,
    "registrationTokenHash" TEXT NOT NULL,
    "tokenEndpointAuthMethod" TEXT NOT NULL,
    "jwks" JSONB,
    "jwksUri" TEXT,
    "grantTypes" TEXT[],
    "scopes" TEXT[],
    "requirePar" BOOLEAN NOT NULL DEFAULT true,
    "dpopBound" BOOLEAN NOT NULL DEFAULT false,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "messengerPageId" TEXT,
    "messengerPageTokenSealed" TEXT,
    "messengerAppSecretSealed" TEXT,
    "messengerVerifyTokenSealed" TEXT,
    "bankIdpIssuer" TEXT,
    "bankIdpClientId" TEXT,
    "bankIdpSecretSealed" TEXT,
    "bankIdpAuthMethod" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "client_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signing_key" (
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL DEFAULT 'ES256',
    "publicJwk" JSONB NOT NULL,
    "privateJwkSealed" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retiredAt" TIMESTAMP(3),
    "publishUntil" TIMESTAMP(3),

    CONSTRAINT "signing_key_pkey" PRIMARY KEY ("kid")
);

-- CreateTable
CREATE TABLE "link_attempt" (
    "id" TEXT NOT NULL,
    "bindingHash" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "state" "AttemptState" NOT NULL DEFAULT 'started',
    "psid" TEXT NOT NULL,
    "redirectUri" TEXT NOT NULL,
    "scopes" TEXT[],
    "purposes" TEXT[],
    "durationDays" INTEGER NOT NULL,
    "codeChallenge" TEXT NOT NULL,
    "oidcStateHash" TEXT,
    "oidcNonceSealed" TEXT,
    "oidcVerifierSealed" TEXT,
    "bankSubject" TEXT,
    "secondFactorMethod" TEXT,
    "secondFactorAt" TIMESTAMP(3),
    "failureReason" TEXT,
    "linkId" TEXT,
    "requestId" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "link_attempt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "link" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "psid" TEXT NOT NULL,
    "status" "LinkStatus" NOT NULL DEFAULT 'active',
    "consentId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "unlinkedAt" TIMESTAMP(3),
    "unlinkedBy" TEXT,

    CONSTRAINT "link_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "totp_factor" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "secretSealed" TEXT NOT NULL,
    "confirmedAt" TIMESTAMP(3),
    "lastUsedStep" BIGINT,
    "failedCount" INTEGER NOT NULL DEFAULT 0,
    "lockedUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "totp_factor_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pushed_authorization_request" (
    "requestUriHash" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "consumedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pushed_authorization_request_pkey" PRIMARY KEY ("requestUriHash")
);

-- CreateTable
CREATE TABLE "authorization_code" (
    "codeHash" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "linkId" TEXT NOT NULL,
    "attemptId" TEXT NOT NULL,
    "consentId" TEXT,
    "subject" TEXT NOT NULL,
    "scopes" TEXT[],
    "codeChallenge" TEXT NOT NULL,
    "codeChallengeMethod" TEXT NOT NULL DEFAULT 'S256',
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "consumedAt" TIMESTAMP(3),
    "grantId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "authorization_code_pkey" PRIMARY KEY ("codeHash")
);

-- CreateTable
CREATE TABLE "grant" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "linkId" TEXT,
    "consentId" TEXT,
    "subject" TEXT,
    "scopes" TEXT[],
    "dpopJkt" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMP(3),
    "revokedReason" TEXT,

    CONSTRAINT "grant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "access_token" (
    "jti" TEXT NOT NULL,
    "grantId" TEXT,
    "clientId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "access_token_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "refresh_token" (
    "tokenHash" TEXT NOT NULL,
    "grantId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "dpopJkt" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "rotatedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refresh_token_pkey" PRIMARY KEY ("tokenHash")
);

-- CreateTable
CREATE TABLE "ledger_entry" (
    "seq" BIGSERIAL NOT NULL,
    "consentId" TEXT NOT NULL,
    "action" "LedgerAction" NOT NULL,
    "clientId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "linkId" TEXT,
    "psid" TEXT,
    "scopes" TEXT[],
    "purposes" TEXT[],
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "actor" TEXT NOT NULL,
    "evidence" JSONB NOT NULL DEFAULT '{}',
    "recordedAt" TIMESTAMP(3) NOT NULL,
    "prevHash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,

    CONSTRAINT "ledger_entry_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "consent" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "linkId" TEXT,
    "psid" TEXT,
    "status" TEXT NOT NULL,
    "scopes" TEXT[],
    "purposes" TEXT[],
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "grantedAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "lastSeq" BIGINT NOT NULL,

    CONSTRAINT "consent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_checkpoint" (
    "seq" BIGINT NOT NULL,
    "headHash" TEXT NOT NULL,
    "kid" TEXT NOT NULL,
    "jws" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_checkpoint_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "staff" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "totpSecretSealed" TEXT,
    "totpLastUsedStep" BIGINT,
    "failedCount" INTEGER NOT NULL DEFAULT 0,
    "lockedUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabledAt" TIMESTAMP(3),

    CONSTRAINT "staff_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "staff_session" (
    "idHash" TEXT NOT NULL,
    "staffId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "staff_session_pkey" PRIMARY KEY ("idHash")
);

-- CreateTable
CREATE TABLE "rate_limit" (
    "key" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "resetAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "rate_limit_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "replay_guard" (
    "key" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "replay_guard_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "job" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "runAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedUntil" TIMESTAMP(3),
    "doneAt" TIMESTAMP(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "client_registrationTokenHash_key" ON "client"("registrationTokenHash");

-- CreateIndex
CREATE INDEX "signing_key_retiredAt_idx" ON "signing_key"("retiredAt");

-- CreateIndex
CREATE UNIQUE INDEX "link_attempt_oidcStateHash_key" ON "link_attempt"("oidcStateHash");

-- CreateIndex
CREATE INDEX "link_attempt_clientId_psid_idx" ON "link_attempt"("clientId", "psid");

-- CreateIndex
CREATE INDEX "link_attempt_expiresAt_idx" ON "link_attempt"("expiresAt");

-- CreateIndex
CREATE INDEX "link_clientId_psid_idx" ON "link"("clientId", "psid");

-- CreateIndex
CREATE UNIQUE INDEX "link_clientId_subject_psid_key" ON "link"("clientId", "subject", "psid");

-- CreateIndex
CREATE UNIQUE INDEX "totp_factor_clientId_subject_key" ON "totp_factor"("clientId", "subject");

-- CreateIndex
CREATE INDEX "pushed_authorization_request_expiresAt_idx" ON "pushed_authorization_request"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "authorization_code_attemptId_key" ON "authorization_code"("attemptId");

-- CreateIndex
CREATE INDEX "authorization_code_expiresAt_idx" ON "authorization_code"("expiresAt");

-- CreateIndex
CREATE INDEX "grant_linkId_idx" ON "grant"("linkId");

-- CreateIndex
CREATE INDEX "grant_clientId_idx" ON "grant"("clientId");

-- CreateIndex
CREATE INDEX "access_token_grantId_idx" ON "access_token"("grantId");

-- CreateIndex
CREATE INDEX "access_token_expiresAt_idx" ON "access_token"("expiresAt");

-- CreateIndex
CREATE INDEX "refresh_token_grantId_idx" ON "refresh_token"("grantId");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_entry_hash_key" ON "ledger_entry"("hash");

-- CreateIndex
CREATE INDEX "ledger_entry_consentId_seq_idx" ON "ledger_entry"("consentId", "seq");

-- CreateIndex
CREATE INDEX "ledger_entry_clientId_subject_idx" ON "ledger_entry"("clientId", "subject");

-- CreateIndex
CREATE INDEX "ledger_entry_clientId_psid_idx" ON "ledger_entry"("clientId", "psid");

-- CreateIndex
CREATE INDEX "ledger_entry_linkId_idx" ON "ledger_entry"("linkId");

-- CreateIndex
CREATE INDEX "ledger_entry_recordedAt_idx" ON "ledger_entry"("recordedAt");

-- CreateIndex
CREATE INDEX "consent_clientId_subject_idx" ON "consent"("clientId", "subject");

-- CreateIndex
CREATE INDEX "consent_clientId_psid_idx" ON "consent"("clientId", "psid");

-- CreateIndex
CREATE INDEX "consent_linkId_idx" ON "consent"("linkId");

-- CreateIndex
CREATE INDEX "consent_status_expiresAt_idx" ON "consent"("status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "staff_email_key" ON "staff"("email");

-- CreateIndex
CREATE INDEX "staff_session_staffId_idx" ON "staff_session"("staffId");

-- CreateIndex
CREATE INDEX "rate_limit_resetAt_idx" ON "rate_limit"("resetAt");

-- CreateIndex
CREATE INDEX "replay_guard_expiresAt_idx" ON "replay_guard"("expiresAt");

-- CreateIndex
CREATE INDEX "job_doneAt_runAt_idx" ON "job"("doneAt", "runAt");

-- The consent ledger is append-only: the database itself refuses UPDATE, DELETE and TRUNCATE.
-- Tamper tests disable this trigger as the table owner on purpose; verify() then finds the change.
CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entry is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_entry_no_update_delete
  BEFORE UPDATE OR DELETE ON "ledger_entry"
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();

CREATE TRIGGER ledger_entry_no_truncate
  BEFORE TRUNCATE ON "ledger_entry"
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_append_only();
