-- Parameters (one row per category and key) and the audit log that a trigger fills.

create table config_parameters (
    category    text        not null,
    key         text        not null,
    value       jsonb       not null,
    value_type  text        not null check (value_type in ('float', 'int', 'string', 'json')),
    description text        not null default '',
    commit      text,
    updated_at  timestamptz not null default now(),
    primary key (category, key),
    -- The JSON type of the value matches its declared type; an int is a number with no fraction.
    constraint config_parameters_value_matches_type check (
        case value_type
            when 'float' then jsonb_typeof(value) = 'number'
            when 'int' then
                case when jsonb_typeof(value) = 'number'
                     then value::numeric = trunc(value::numeric)
                     else false end
            when 'string' then jsonb_typeof(value) = 'string'
            when 'json' then true
            else false
        end
    )
);

create table config_audit_log (
    id             bigserial   primary key,
    table_name     text        not null,
    category       text        not null,
    key            text        not null,
    action         text        not null check (action in ('INSERT', 'UPDATE', 'DELETE')),
    old_value      jsonb,
    new_value      jsonb,
    commit_sha     text,
    commit_author  text,
    commit_message text,
    is_drift       boolean     not null,
    db_role        text        not null default current_user,
    changed_at     timestamptz not null default clock_timestamp()
);

create index config_audit_log_key_idx on config_audit_log (category, key, changed_at);
create index config_audit_log_commit_idx on config_audit_log (commit_sha);

-- One audit row per inserted, deleted or really changed row of a config table.
-- config_parameters: category and key of the row, value = the `value` column.
-- Other tables: category = table name, key = the row's id, value = the row as jsonb without
-- commit and updated_at.
-- The commit comes from the transaction-local settings tonsurance.commit_sha, commit_author and
-- commit_message (set_config(..., true)); without a commit the change is drift (is_drift true).
-- An UPDATE that changes nothing but commit and updated_at writes no row.
create function config_audit_trigger() returns trigger
language plpgsql as $$
declare
    old_doc jsonb;
    new_doc jsonb;
    row_doc jsonb;
    sha     text := nullif(current_setting('tonsurance.commit_sha', true), '');
begin
    if tg_op <> 'INSERT' then
        old_doc := to_jsonb(old) - 'commit' - 'updated_at';
    end if;
    if tg_op <> 'DELETE' then
        new_doc := to_jsonb(new) - 'commit' - 'updated_at';
    end if;
    if tg_op = 'UPDATE' and old_doc = new_doc then
        return null;
    end if;
    row_doc := coalesce(new_doc, old_doc);
    insert into config_audit_log (
        table_name, category, key, action, old_value, new_value,
        commit_sha, commit_author, commit_message, is_drift
    ) values (
        tg_table_name,
        case when tg_table_name = 'config_parameters'
             then row_doc ->> 'category' else tg_table_name end,
        case when tg_table_name = 'config_parameters'
             then row_doc ->> 'key' else row_doc ->> 'id' end,
        tg_op,
        case when tg_table_name = 'config_parameters' then old_doc -> 'value' else old_doc end,
        case when tg_table_name = 'config_parameters' then new_doc -> 'value' else new_doc end,
        sha,
        nullif(current_setting('tonsurance.commit_author', true), ''),
        nullif(current_setting('tonsurance.commit_message', true), ''),
        sha is null
    );
    return null;
end
$$;

create trigger config_parameters_audit
    after insert or update or delete on config_parameters
    for each row execute function config_audit_trigger();
