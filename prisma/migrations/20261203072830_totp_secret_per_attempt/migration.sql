-- AlterTable
ALTER TABLE "totp_factor" ADD COLUMN     "pendingAttemptId" TEXT;
