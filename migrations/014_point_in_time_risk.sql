-- The depeg risk functions give what tonsurance.risk gives for every input, not only the shipped
-- history:
--   * as_of is a point in time: an event that starts after it is not counted;
--   * the default as_of is today's date in UTC, whatever the session's time zone;
--   * the probability is exactly 1 once n / lookback_years >= 40 (1 - exp(-x) rounds to 1 from
--     x = 37.5 on), where exp() would otherwise fail with "value out of range: underflow";
--   * the window compares whole days with lookback_years * 365.25, as the Python code does, and
--     takes any positive lookback without overflowing;
--   * the expected loss takes an as_of like the Python one, and its mean shortfall counts only
--     the events known on that day.

create or replace function calculate_annual_depeg_probability(
    asset text,
    threshold double precision,
    lookback_years double precision,
    as_of date default (now() at time zone 'UTC')::date
) returns double precision
language plpgsql stable as $$
declare
    n         bigint;
    v_day     date := coalesce(as_of, (now() at time zone 'UTC')::date);
    lookback  double precision := lookback_years;
    span_days double precision;
begin
    if lookback is null or lookback = 'NaN' or lookback <= 0 then
        raise exception 'lookback_years must be positive, got %', lookback
            using errcode = 'invalid_parameter_value';
    end if;
    -- lookback * 365.25 overflows (an error in SQL) above about 4.9e305; any day count is smaller
    span_days := case when lookback > 1e300 then 'Infinity'::double precision
                      else lookback * 365.25 end;
    select count(*) into n
      from historical_depegs h
     where h.asset = calculate_annual_depeg_probability.asset
       and h.verified
       and h.low_price < threshold
       and h.start_date <= v_day
       and (v_day - h.start_date) < span_days;
    if n > 0 and lookback <= n::double precision / 40 then
        return 1;
    end if;
    return 1 - exp(-(n / lookback));
end
$$;

drop function calculate_expected_loss_per_policy(text, double precision, double precision);

-- P(asset, trigger_price, historical_data_years, as_of) * coverage
--   * mean(1 - low_price over the verified events of the asset with low_price < trigger_price
--     that started on or before as_of), the mean being 0 if there is no such event;
-- historical_data_years is the risk parameter of that name, 5 when it is not set.
create function calculate_expected_loss_per_policy(
    asset text,
    coverage double precision,
    trigger_price double precision,
    as_of date default (now() at time zone 'UTC')::date
) returns double precision
language sql stable as $$
    select calculate_annual_depeg_probability(
               calculate_expected_loss_per_policy.asset,
               trigger_price,
               coalesce((select (p.value)::double precision
                           from config_parameters p
                          where p.category = 'risk' and p.key = 'historical_data_years'
                            and jsonb_typeof(p.value) = 'number'), 5),
               coalesce(as_of, (now() at time zone 'UTC')::date))
           * coverage
           * coalesce((select avg(1 - h.low_price)
                         from historical_depegs h
                        where h.asset = calculate_expected_loss_per_policy.asset
                          and h.verified
                          and h.low_price < trigger_price
                          and h.start_date <= coalesce(as_of, (now() at time zone 'UTC')::date)),
                      0)
$$;

grant execute on function
    calculate_expected_loss_per_policy(text, double precision, double precision, date)
    to tonsurance_reader, tonsurance_writer;
