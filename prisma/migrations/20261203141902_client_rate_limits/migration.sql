-- AlterTable
ALTER TABLE "client" ADD COLUMN     "rateLimits" JSONB;
