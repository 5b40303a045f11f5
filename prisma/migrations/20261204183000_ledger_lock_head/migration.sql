-- The ledger's chain lock, its head and (when asked) the next seq in one round trip
-- (packages/consent-ledger/src/ledger-store.ts). A VOLATILE function takes a new snapshot for
-- each query it runs, so the SELECT, which runs after the lock is granted, sees what the previous
-- holder committed. One plain statement could not do this: its snapshot would be taken before it
-- waited for the lock.
CREATE FUNCTION ledger_lock_head(lock_key BIGINT, take_seq BOOLEAN)
RETURNS TABLE (head_hash TEXT, next_seq BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  RETURN QUERY SELECT (SELECT e.hash FROM ledger_entry e ORDER BY e.seq DESC LIMIT 1),
                      CASE WHEN take_seq THEN nextval(pg_get_serial_sequence('ledger_entry', 'seq')) END;
END
$$;
