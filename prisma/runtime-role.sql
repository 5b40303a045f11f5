-- Least privilege for the broker's runtime role (the role of DATABASE_URL). Run by the owning
-- role (DATABASE_MIGRATION_URL) after the migrations, and again after any later migration:
--
--   psql "$DATABASE_MIGRATION_URL" -v runtime_role=link_broker_app -f prisma/runtime-role.sql
--
-- The runtime role owns nothing, so it can neither alter tables nor disable their triggers.
-- On the ledger, its signed checkpoints, its signing keys and the staff audit log it may only
-- append and read.
GRANT USAGE ON SCHEMA public TO :"runtime_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"runtime_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"runtime_role";
REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON ledger_entry, ledger_checkpoint, ledger_signing_key, staff_audit_event FROM :"runtime_role";
-- Migrations belong to the owner; the broker only reads which were applied (/readyz).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _prisma_migrations FROM :"runtime_role";
