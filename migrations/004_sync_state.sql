-- What syncd applied and attempted: one row of state and a log of runs.

create table sync_state (
    id               boolean     primary key default true check (id),
    applied_commit   text,
    applied_at       timestamptz,
    applied_by       text,
    attempted_commit text,
    attempted_at     timestamptz,
    attempt_outcome  text check (attempt_outcome in ('applied', 'unchanged', 'refused', 'failed')),
    attempt_error    text
);

-- The single row exists from the start, so writers can always UPDATE it (an upsert works too).
insert into sync_state default values;

create table sync_runs (
    id          bigserial   primary key,
    commit      text,
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    outcome     text,
    changes     int,
    message     text,
    host        text
);

create index sync_runs_started_idx on sync_runs (started_at);
