-- Audit per statement instead of per row, and record why each change was made.
--
-- A sync of 100k parameters is one INSERT ... SELECT; a row trigger would run 100k times.
-- Statement triggers with transition tables write all audit rows of a statement in one insert,
-- with the same rules as before: one row per inserted, deleted or really changed row; an UPDATE
-- that changes nothing but commit and updated_at writes none; no commit attached => drift.
--
-- reason: the transaction-local setting tonsurance.change_reason when syncd sets it ('commit',
-- 'drift correction'), else 'drift' for a change with no commit attached.

alter table config_audit_log add column reason text;

drop trigger config_parameters_audit on config_parameters;
drop trigger historical_depegs_audit on historical_depegs;
drop trigger stress_scenarios_audit on stress_scenarios;
drop function config_audit_trigger();

create function config_audit_statement() returns trigger
language plpgsql as $$
declare
    sha     text := nullif(current_setting('tonsurance.commit_sha', true), '');
    author  text := nullif(current_setting('tonsurance.commit_author', true), '');
    message text := nullif(current_setting('tonsurance.commit_message', true), '');
    why     text := coalesce(nullif(current_setting('tonsurance.change_reason', true), ''),
                             case when sha is null then 'drift' else 'commit' end);
    params  boolean := tg_table_name = 'config_parameters';
begin
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

create trigger config_parameters_audit_insert after insert on config_parameters
    referencing new table as new_rows for each statement execute function config_audit_statement();
create trigger config_parameters_audit_update after update on config_parameters
    referencing old table as old_rows new table as new_rows
    for each statement execute function config_audit_statement();
create trigger config_parameters_audit_delete after delete on config_parameters
    referencing old table as old_rows for each statement execute function config_audit_statement();

create trigger historical_depegs_audit_insert after insert on historical_depegs
    referencing new table as new_rows for each statement execute function config_audit_statement();
create trigger historical_depegs_audit_update after update on historical_depegs
    referencing old table as old_rows new table as new_rows
    for each statement execute function config_audit_statement();
create trigger historical_depegs_audit_delete after delete on historical_depegs
    referencing old table as old_rows for each statement execute function config_audit_statement();

create trigger stress_scenarios_audit_insert after insert on stress_scenarios
    referencing new table as new_rows for each statement execute function config_audit_statement();
create trigger stress_scenarios_audit_update after update on stress_scenarios
    referencing old table as old_rows new table as new_rows
    for each statement execute function config_audit_statement();
create trigger stress_scenarios_audit_delete after delete on stress_scenarios
    referencing old table as old_rows for each statement execute function config_audit_statement();
