-- AlterTable
ALTER TABLE "link_attempt" ADD COLUMN     "optionalScopes" TEXT[] DEFAULT ARRAY[]::TEXT[];
