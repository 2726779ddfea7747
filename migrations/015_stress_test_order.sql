-- run_all_stress_tests runs the scenarios in code-point order of their id, as tonsurance.risk
-- does, under any database or column collation (in "en_US" or an ICU collation "_" sorts before
-- the digits; in "C", as in Python, after them).

create or replace function run_all_stress_tests(vault_snapshot jsonb, tested_by text)
returns setof stress_test_results
language plpgsql volatile as $$
declare
    v_id text;
begin
    for v_id in select s.id from stress_scenarios s order by s.id collate "C" loop
        return next run_stress_test(v_id, run_all_stress_tests.vault_snapshot,
                                    run_all_stress_tests.tested_by);
    end loop;
end
$$;
