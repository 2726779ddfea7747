-- The audit log is written far more often than it is searched by commit: a full sync writes one
-- row per parameter, and keeping an index on commit_sha costs about a fifth of a 100k-row sync.
-- The questions asked of the log are "the history of this key" (config_audit_log_key_idx) and
-- "any hand edits since the last sync" (config_audit_log_drift_idx); both keep their indexes.
drop index if exists config_audit_log_commit_idx;
