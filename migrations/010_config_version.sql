-- The configuration version: one number that every committed write to the configuration moves.
--
-- Loaders reload when it moves, never on the applied commit alone: a hand edit, a drift
-- correction on the same commit and an apply all change it. Triggers on the three configuration
-- tables (every statement, TRUNCATE included) and on sync_state's applied_commit bump it once
-- per transaction, before the statement writes anything, so every writer takes the version's
-- row lock before any row lock of the tables and two writers never deadlock on it. The bump
-- sends a NOTIFY carrying the new version; loaders treat it only as a hint to check the version.
--
-- Nobody but the owner may write the table: the trigger function runs as its owner (SECURITY
-- DEFINER, fixed search_path), so neither role can move the version back or skip a bump.

create table config_version (
    id         boolean     primary key default true check (id),
    version    bigint      not null default 1,
    changed_at timestamptz not null default now()
);

insert into config_version default values;

create function config_version_bump() returns trigger
language plpgsql security definer as $$
declare
    moved bigint;
begin
    -- Once per transaction: the row's xmin is this transaction once it has been bumped here.
    update config_version
       set version = version + 1, changed_at = now()
     where xmin <> pg_current_xact_id()::xid
    returning version into moved;
    if moved is not null then
        perform pg_notify('tonsurance_config', 'version ' || moved);
    end if;
    if tg_level = 'ROW' then
        return new;
    end if;
    return null;
end
$$;

do $$
begin
    execute format('alter function config_version_bump() set search_path = %I, pg_temp',
                   current_schema());
end
$$;

revoke all on function config_version_bump() from public;

create trigger config_parameters_version before insert or update or delete or truncate
    on config_parameters for each statement execute function config_version_bump();
create trigger historical_depegs_version before insert or update or delete or truncate
    on historical_depegs for each statement execute function config_version_bump();
create trigger stress_scenarios_version before insert or update or delete or truncate
    on stress_scenarios for each statement execute function config_version_bump();
create trigger sync_state_version before update of applied_commit on sync_state
    for each row when (old.applied_commit is distinct from new.applied_commit)
    execute function config_version_bump();

revoke all on config_version from public, tonsurance_reader, tonsurance_writer;
grant select on config_version to tonsurance_reader, tonsurance_writer;
