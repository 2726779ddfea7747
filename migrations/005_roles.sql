-- Roles: tonsurance_reader for services (SELECT on the config tables and views, EXECUTE on the
-- read-only functions) and tonsurance_writer for syncd. Both are NOLOGIN group roles: an operator
-- grants them to login roles (GRANT tonsurance_reader TO app_service).
-- Roles belong to the whole cluster, so creating one tolerates its existence and a concurrent
-- creation in another database; the grants below are per database and applied here.

do $$
declare
    r text;
begin
    foreach r in array array['tonsurance_reader', 'tonsurance_writer'] loop
        if not exists (select from pg_roles where rolname = r) then
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;
            end;
        end if;
    end loop;
    execute format('grant usage on schema %I to tonsurance_reader, tonsurance_writer',
                   current_schema());
end
$$;

revoke all on config_parameters, historical_depegs, stress_scenarios, stress_test_results,
    config_audit_log, sync_state, sync_runs, schema_migrations,
    depeg_frequency_by_asset, depeg_severity_by_asset
    from tonsurance_reader, tonsurance_writer;

grant select on config_parameters, historical_depegs, stress_scenarios, sync_state,
    depeg_frequency_by_asset, depeg_severity_by_asset
    to tonsurance_reader;

grant select, insert, update, delete
    on config_parameters, historical_depegs, stress_scenarios, sync_state, sync_runs,
       stress_test_results
    to tonsurance_writer;
grant select, insert on config_audit_log to tonsurance_writer;
grant select on schema_migrations, depeg_frequency_by_asset, depeg_severity_by_asset
    to tonsurance_writer;
grant usage on sequence config_audit_log_id_seq, sync_runs_id_seq, stress_test_results_id_seq
    to tonsurance_writer;

-- Functions are executable by PUBLIC by default; the ones that write are for the writer only.
revoke execute on function run_stress_test(text, jsonb, text), run_all_stress_tests(jsonb, text)
    from public;
grant execute on function run_stress_test(text, jsonb, text), run_all_stress_tests(jsonb, text)
    to tonsurance_writer;
grant execute on function
    calculate_annual_depeg_probability(text, double precision, double precision, date),
    calculate_expected_severity(text),
    calculate_expected_loss_per_policy(text, double precision, double precision),
    get_stressed_asset_price(text, text),
    calculate_stress_payout(text, double precision, double precision, text)
    to tonsurance_reader, tonsurance_writer;
