-- AlterTable
ALTER TABLE "job" ADD COLUMN     "leaseId" TEXT;
