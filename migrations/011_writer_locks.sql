-- Locks that only syncd's writer role can take.
--
-- PostgreSQL's advisory locks are open to every role: a session of the read-only service role
-- could take syncd's keys and halt every apply. These two views hold no rows and have no tables
-- beneath them; syncd takes them with LOCK TABLE ... IN EXCLUSIVE MODE, which needs UPDATE on
-- the view, granted to tonsurance_writer alone. EXCLUSIVE mode does not conflict with the
-- ACCESS SHARE lock that any query (even a refused one) takes, so nobody else can get in the way.
-- A view, unlike a table, is never vacuumed, so the leader lock can stay held for months.
--
-- sync_leader_lock: held by the active daemon for as long as it runs, in an open transaction on
-- a connection of its own (a transaction without a snapshot or a transaction id: it holds back
-- nothing). sync_apply_lock: held by every apply for the length of its transaction.

create view sync_leader_lock as select true as held;
create view sync_apply_lock as select true as held;

revoke all on sync_leader_lock, sync_apply_lock from public;
revoke all on sync_leader_lock, sync_apply_lock from tonsurance_reader;
grant update on sync_leader_lock, sync_apply_lock to tonsurance_writer;
