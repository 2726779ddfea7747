-- The environment a database serves (dev, staging, production, ...). syncd records it at the
-- first apply and refuses, changing nothing, to apply another environment's configuration.
-- Null until then; the names follow config/environments.yaml's pattern.

alter table sync_state add column environment text
    check (environment ~ '^[a-z][a-z0-9-]{0,31}$');
