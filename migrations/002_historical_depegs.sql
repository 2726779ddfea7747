-- Historical depeg events, their analytics views and the actuarial functions built on them.
-- Only verified events count in the views and functions.

create table historical_depegs (
    id             text             primary key check (id ~ '^[a-z0-9][a-z0-9-]*$'),
    asset          text             not null,
    low_price      double precision not null check (low_price > 0 and low_price < 2),
    start_date     date             not null,
    duration_hours double precision not null check (duration_hours >= 0),
    cause          text             not null default '',
    source         text             not null default '',
    verified       boolean          not null default false,
    commit         text,
    updated_at     timestamptz      not null default now()
);

create index historical_depegs_asset_idx on historical_depegs (asset, start_date);

create trigger historical_depegs_audit
    after insert or update or delete on historical_depegs
    for each row execute function config_audit_trigger();

-- How often each asset depegged: number of verified events, first and last start date, and the
-- total and mean duration in hours.
create view depeg_frequency_by_asset as
select asset,
       count(*)::int       as event_count,
       min(start_date)     as first_event,
       max(start_date)     as last_event,
       sum(duration_hours) as total_duration_hours,
       avg(duration_hours) as avg_duration_hours
  from historical_depegs
 where verified
 group by asset;

-- How deep each asset depegged: number of verified events, lowest price, mean low price and the
-- expected severity mean(1 - low_price) over the events with low_price < 1.
create view depeg_severity_by_asset as
select asset,
       count(*)::int                                       as event_count,
       min(low_price)                                      as worst_low_price,
       avg(low_price)                                      as avg_low_price,
       coalesce(avg(1 - low_price) filter (where low_price < 1), 0) as expected_severity
  from historical_depegs
 where verified
 group by asset;

-- P = 1 - exp(-n / lookback_years), where n counts the verified events of the asset with
-- low_price < threshold and start_date > as_of - lookback_years * 365.25 days (the start date
-- taken at midnight, the cutoff an exact timestamp). lookback_years must be positive.
create function calculate_annual_depeg_probability(
    asset text,
    threshold double precision,
    lookback_years double precision,
    as_of date default current_date
) returns double precision
language plpgsql stable as $$
declare
    n bigint;
begin
    if lookback_years is null or lookback_years <= 0 then
        raise exception 'lookback_years must be positive, got %', lookback_years
            using errcode = 'invalid_parameter_value';
    end if;
    select count(*) into n
      from historical_depegs h
     where h.asset = calculate_annual_depeg_probability.asset
       and h.verified
       and h.low_price < threshold
       and h.start_date > as_of::timestamp - lookback_years * 365.25 * interval '1 day';
    return 1 - exp(-(n / lookback_years));
end
$$;

-- mean(1 - low_price) over the verified events of the asset with low_price < 1; 0 if none.
create function calculate_expected_severity(asset text) returns double precision
language sql stable as $$
    select coalesce(avg(1 - h.low_price), 0)
      from historical_depegs h
     where h.asset = calculate_expected_severity.asset
       and h.verified
       and h.low_price < 1
$$;

-- P(asset, trigger_price, historical_data_years) * coverage
--   * mean(1 - low_price over the verified events of the asset with low_price < trigger_price),
-- the mean being 0 if there is no such event; historical_data_years is the risk parameter of that
-- name, 5 when it is not set.
create function calculate_expected_loss_per_policy(
    asset text,
    coverage double precision,
    trigger_price double precision
) returns double precision
language sql stable as $$
    select calculate_annual_depeg_probability(
               calculate_expected_loss_per_policy.asset,
               trigger_price,
               coalesce((select (p.value)::double precision
                           from config_parameters p
                          where p.category = 'risk' and p.key = 'historical_data_years'
                            and jsonb_typeof(p.value) = 'number'), 5))
           * coverage
           * coalesce((select avg(1 - h.low_price)
                         from historical_depegs h
                        where h.asset = calculate_expected_loss_per_policy.asset
                          and h.verified
                          and h.low_price < trigger_price), 0)
$$;
