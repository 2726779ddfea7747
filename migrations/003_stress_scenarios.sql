-- Stress scenarios, the results of stress tests, and the functions that run them.

create table stress_scenarios (
    id                 text             primary key check (id ~ '^[a-z][a-z0-9_]*$'),
    name               text             not null,
    description        text             not null default '',
    severity           text             not null
                       check (severity in ('low', 'medium', 'high', 'extreme')),
    annual_probability double precision not null
                       check (annual_probability >= 0 and annual_probability <= 1),
    btc_change         double precision not null,
    price_impacts      jsonb            not null default '{}'
                       check (jsonb_typeof(price_impacts) = 'object'),
    commit             text,
    updated_at         timestamptz      not null default now()
);

create trigger stress_scenarios_audit
    after insert or update or delete on stress_scenarios
    for each row execute function config_audit_trigger();

create table stress_test_results (
    id             bigserial        primary key,
    scenario_id    text             not null,
    vault_snapshot jsonb            not null,
    total_payout   double precision not null,
    btc_pnl        double precision not null,
    capital_after  double precision not null,
    solvent        boolean          not null,
    tested_by      text,
    tested_at      timestamptz      not null default now()
);

create index stress_test_results_scenario_idx on stress_test_results (scenario_id, tested_at);

-- 1 + price_impacts[asset] of the scenario; NULL when the scenario or the asset is absent.
create function get_stressed_asset_price(scenario_id text, asset text)
returns double precision
language sql stable as $$
    select 1 + (s.price_impacts ->> get_stressed_asset_price.asset)::double precision
      from stress_scenarios s
     where s.id = get_stressed_asset_price.scenario_id
$$;

-- coverage * (1 - stressed price) when the stressed price is below trigger_price, else 0
-- (also 0 when the scenario has no impact for the asset).
create function calculate_stress_payout(
    asset text,
    coverage double precision,
    trigger_price double precision,
    scenario_id text
) returns double precision
language sql stable as $$
    select case when p.price < trigger_price then coverage * (1 - p.price) else 0 end
      from (select get_stressed_asset_price(calculate_stress_payout.scenario_id,
                                            calculate_stress_payout.asset) as price) p
$$;

-- vault_snapshot = {"capital_usd": X, "btc_exposure_usd": Y,
--                   "policies": [{"asset": A, "coverage_usd": C, "trigger_price": T}, ...]}
-- total_payout = sum of calculate_stress_payout over the policies; btc_pnl = Y * btc_change;
-- capital_after = X + btc_pnl - total_payout; solvent = capital_after >= 0.
-- Missing X or Y count as 0. The result is stored in stress_test_results and returned.
create function run_stress_test(scenario_id text, vault_snapshot jsonb, tested_by text)
returns stress_test_results
language plpgsql volatile as $$
declare
    v_btc_change double precision;
    v_payout     double precision;
    v_pnl        double precision;
    v_capital    double precision;
    v_result     stress_test_results;
begin
    select s.btc_change into v_btc_change
      from stress_scenarios s
     where s.id = run_stress_test.scenario_id;
    if not found then
        raise exception 'unknown stress scenario %', run_stress_test.scenario_id
            using errcode = 'no_data_found';
    end if;
    select coalesce(sum(calculate_stress_payout(
               p ->> 'asset',
               (p ->> 'coverage_usd')::double precision,
               (p ->> 'trigger_price')::double precision,
               run_stress_test.scenario_id)), 0)
      into v_payout
      from jsonb_array_elements(coalesce(run_stress_test.vault_snapshot -> 'policies', '[]')) p;
    v_pnl := coalesce((run_stress_test.vault_snapshot ->> 'btc_exposure_usd')::double precision, 0)
             * v_btc_change;
    v_capital := coalesce((run_stress_test.vault_snapshot ->> 'capital_usd')::double precision, 0)
                 + v_pnl - v_payout;
    insert into stress_test_results as r (
        scenario_id, vault_snapshot, total_payout, btc_pnl, capital_after, solvent, tested_by
    ) values (
        run_stress_test.scenario_id, run_stress_test.vault_snapshot, v_payout, v_pnl, v_capital,
        v_capital >= 0, run_stress_test.tested_by
    )
    returning r.* into v_result;
    return v_result;
end
$$;

-- run_stress_test for every scenario, in order of scenario id.
create function run_all_stress_tests(vault_snapshot jsonb, tested_by text)
returns setof stress_test_results
language plpgsql volatile as $$
declare
    v_id text;
begin
    for v_id in select s.id from stress_scenarios s order by s.id loop
        return next run_stress_test(v_id, run_all_stress_tests.vault_snapshot,
                                    run_all_stress_tests.tested_by);
    end loop;
end
$$;
