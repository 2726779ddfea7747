-- Only syncd's own apply transaction attributes a change to a commit.
--
-- Until now the audit triggers took the commit from session settings (tonsurance.commit_sha,
-- ...), which any session can set: a hand edit could pass for a sync. Now an apply records its
-- own transaction in sync_apply_transactions before it writes, and the triggers attribute a
-- change to a commit only when a row for the current transaction exists there; any other change
-- is a hand edit (drift), whatever the session has set.
--
-- The ledger says who recorded each row and nobody can rewrite it: a BEFORE INSERT trigger
-- fills the transaction id, the session role, application name, client address and process id
-- from the session itself (a value given for them is ignored), and the writer role may only
-- insert and read, never update or delete.

create table sync_apply_transactions (
    txid           xid8        primary key,
    commit_sha     text        not null,
    commit_author  text,
    commit_message text,
    reason         text        not null check (reason in ('commit', 'drift correction')),
    session_role   text        not null,
    application    text,
    client_addr    inet,
    backend_pid    int         not null,
    recorded_at    timestamptz not null
);

create function sync_apply_transactions_stamp() returns trigger
language plpgsql as $$
begin
    new.txid := pg_current_xact_id();
    new.session_role := session_user;
    new.application := nullif(current_setting('application_name', true), '');
    new.client_addr := inet_client_addr();
    new.backend_pid := pg_backend_pid();
    new.recorded_at := now();
    return new;
end
$$;

create trigger sync_apply_transactions_stamp before insert on sync_apply_transactions
    for each row execute function sync_apply_transactions_stamp();

revoke all on sync_apply_transactions from public, tonsurance_reader, tonsurance_writer;
grant select, insert on sync_apply_transactions to tonsurance_writer;

-- The apply of the current transaction, if it is one; callable from every writer's triggers.
create function sync_apply_of_this_transaction(
    out commit_sha text, out commit_author text, out commit_message text, out reason text)
language sql stable security definer as $$
    select a.commit_sha, a.commit_author, a.commit_message, a.reason
      from sync_apply_transactions a
     where a.txid = pg_current_xact_id_if_assigned()
$$;

do $$
begin
    execute format('alter function sync_apply_of_this_transaction() set search_path = %I, pg_temp',
                   current_schema());
end
$$;

create or replace function config_audit_statement() returns trigger
language plpgsql as $$
declare
    sha     text;
    author  text;
    message text;
    why     text;
    params  boolean := tg_table_name = 'config_parameters';
begin
    select a.commit_sha, a.commit_author, a.commit_message, a.reason
      into sha, author, message, why
      from sync_apply_of_this_transaction() a;
    why := coalesce(why, 'drift');
    if tg_op = 'INSERT' then
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select tg_table_name,
               case when params then d ->> 'category' else tg_table_name end,
               case when params then d ->> 'key' else d ->> 'id' end,
               'INSERT', null, case when params then d -> 'value' else d end,
               sha, author, message, sha is null, why
          from (select to_jsonb(n) - 'commit' - 'updated_at' as d from new_rows n) s;
    elsif tg_op = 'DELETE' then
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select tg_table_name,
               case when params then d ->> 'category' else tg_table_name end,
               case when params then d ->> 'key' else d ->> 'id' end,
               'DELETE', case when params then d -> 'value' else d end, null,
               sha, author, message, sha is null, why
          from (select to_jsonb(o) - 'commit' - 'updated_at' as d from old_rows o) s;
    else
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select tg_table_name,
               case when params then n.d ->> 'category' else tg_table_name end,
               case when params then n.d ->> 'key' else n.d ->> 'id' end,
               'UPDATE',
               case when params then o.d -> 'value' else o.d end,
               case when params then n.d -> 'value' else n.d end,
               sha, author, message, sha is null, why
          from (select to_jsonb(t) - 'commit' - 'updated_at' as d from old_rows t) o
          join (select to_jsonb(t) - 'commit' - 'updated_at' as d from new_rows t) n
            on case when params then (o.d ->> 'category') || '/' || (o.d ->> 'key') else o.d ->> 'id' end
             = case when params then (n.d ->> 'category') || '/' || (n.d ->> 'key') else n.d ->> 'id' end
         where o.d <> n.d;
    end if;
    return null;
end
$$;

create or replace function config_parameters_audit_statement() returns trigger
language plpgsql as $$
declare
    sha     text;
    author  text;
    message text;
    why     text;
begin
    select a.commit_sha, a.commit_author, a.commit_message, a.reason
      into sha, author, message, why
      from sync_apply_of_this_transaction() a;
    why := coalesce(why, 'drift');
    if tg_op = 'INSERT' then
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select 'config_parameters', n.category, n.key, 'INSERT', null, n.value,
               sha, author, message, sha is null, why
          from new_rows n;
    elsif tg_op = 'DELETE' then
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select 'config_parameters', o.category, o.key, 'DELETE', o.value, null,
               sha, author, message, sha is null, why
          from old_rows o;
    else
        insert into config_audit_log (table_name, category, key, action, old_value, new_value,
                                      commit_sha, commit_author, commit_message, is_drift, reason)
        select 'config_parameters', n.category, n.key, 'UPDATE', o.value, n.value,
               sha, author, message, sha is null, why
          from old_rows o
          join new_rows n on n.category = o.category and n.key = o.key
         where (o.value, o.value_type, o.description) is distinct from (n.value, n.value_type, n.description);
    end if;
    return null;
end
$$;

create or replace function config_truncate_audit() returns trigger
language plpgsql as $$
declare
    sha text;
    why text;
begin
    select a.commit_sha, a.reason into sha, why from sync_apply_of_this_transaction() a;
    insert into config_audit_log (table_name, category, key, action, commit_sha, is_drift, reason)
    values (tg_table_name,
            case when tg_table_name = 'config_parameters' then '*' else tg_table_name end,
            '*', 'TRUNCATE', sha, sha is null, coalesce(why, 'drift'));
    return null;
end
$$;
