-- CreateTable
CREATE TABLE "totp_recovery_code" (
    "id" TEXT NOT NULL,
    "factorId" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "usedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "totp_recovery_code_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "totp_recovery_code_codeHash_key" ON "totp_recovery_code"("codeHash");

-- CreateIndex
CREATE INDEX "totp_recovery_code_factorId_idx" ON "totp_recovery_code"("factorId");
