-- Faster auditing of config_parameters, a cheap drift lookup, and TRUNCATE counted as drift.
--
-- config_parameters gets its own statement trigger function that reads the columns directly
-- instead of converting every row to jsonb: a 100k-row sync writes its audit rows several times
-- faster. Same rules as before (one row per inserted, deleted or really changed parameter; an
-- UPDATE that changes only commit and updated_at writes none; no commit attached => drift).
--
-- A partial index on drift rows lets syncd ask "any hand edits since the last sync?" without
-- scanning the log. TRUNCATE bypasses row and delete triggers, so it gets its own trigger that
-- records one drift row (key '*') for the whole table.

alter table config_audit_log drop constraint config_audit_log_action_check;
alter table config_audit_log add constraint config_audit_log_action_check
    check (action in ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'));

create index config_audit_log_drift_idx on config_audit_log (changed_at) where is_drift;

create function config_parameters_audit_statement() returns trigger
language plpgsql as $$
declare
    sha     text := nullif(current_setting('tonsurance.commit_sha', true), '');
    author  text := nullif(current_setting('tonsurance.commit_author', true), '');
    message text := nullif(current_setting('tonsurance.commit_message', true), '');
    why     text := coalesce(nullif(current_setting('tonsurance.change_reason', true), ''),
                             case when sha is null then 'drift' else 'commit' end);
begin
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

drop trigger config_parameters_audit_insert on config_parameters;
drop trigger config_parameters_audit_update on config_parameters;
drop trigger config_parameters_audit_delete on config_parameters;

create trigger config_parameters_audit_insert after insert on config_parameters
    referencing new table as new_rows
    for each statement execute function config_parameters_audit_statement();
create trigger config_parameters_audit_update after update on config_parameters
    referencing old table as old_rows new table as new_rows
    for each statement execute function config_parameters_audit_statement();
create trigger config_parameters_audit_delete after delete on config_parameters
    referencing old table as old_rows
    for each statement execute function config_parameters_audit_statement();

create function config_truncate_audit() returns trigger
language plpgsql as $$
declare
    sha text := nullif(current_setting('tonsurance.commit_sha', true), '');
begin
    insert into config_audit_log (table_name, category, key, action, commit_sha, is_drift, reason)
    values (tg_table_name,
            case when tg_table_name = 'config_parameters' then '*' else tg_table_name end,
            '*', 'TRUNCATE', sha, sha is null,
            coalesce(nullif(current_setting('tonsurance.change_reason', true), ''),
                     case when sha is null then 'drift' else 'commit' end));
    return null;
end
$$;

create trigger config_parameters_audit_truncate after truncate on config_parameters
    for each statement execute function config_truncate_audit();
create trigger historical_depegs_audit_truncate after truncate on historical_depegs
    for each statement execute function config_truncate_audit();
create trigger stress_scenarios_audit_truncate after truncate on stress_scenarios
    for each statement execute function config_truncate_audit();
