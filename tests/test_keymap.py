"""The file-to-row mapping: one row per leaf, and back again without loss."""

from hypothesis import given
from hypothesis import strategies as st

from tonsurance.config.keymap import flatten, unflatten, value_type_of

asset = st.from_regex(r"[A-Za-z][A-Za-z0-9]{1,8}", fullmatch=True)
rate = st.floats(min_value=0, max_value=1, allow_nan=False)
tier = st.fixed_dictionaries({"threshold": rate, "discount": rate})


def test_pricing_keys_follow_the_source_document():
    """Grouped YAML leaves become the source document's key names."""
    doc = {
        "base_rates": {"USDC": 0.04, "default": 0.1},
        "size_discounts": {"tier1": {"threshold": 10_000_000, "discount": 0.2}},
        "utilization_multipliers": {"tier2": {"threshold": 0.75, "multiplier": 1.25}},
        "trigger": {"base_price": 0.97},
        "minimum_premium": {"absolute_usd": 100},
        "duration_base_days": 90,
    }
    keys = {k: v for k, v, _ in flatten("pricing", doc)}
    assert keys == {
        "base_rate_USDC": 0.04,
        "base_rate_default": 0.1,
        "size_discount_tier1_threshold": 10_000_000,
        "size_discount_tier1_discount": 0.2,
        "utilization_tier2_threshold": 0.75,
        "utilization_tier2_multiplier": 1.25,
        "trigger_base_price": 0.97,
        "min_premium_absolute_usd": 100,
        "duration_base_days": 90,
    }


def test_tranche_keys_keep_the_tranche_id():
    """Tranche leaves are keyed `<ID>_<field>`, including ids with a plus sign."""
    doc = {"tranches": {"SURE-JNR+": {"apy_max": 0.22, "curve_type": "quadratic"}}}
    assert {k for k, _, _ in flatten("tranche", doc)} == {
        "SURE-JNR+_apy_max",
        "SURE-JNR+_curve_type",
    }


def test_value_types():
    """Declared types: ints only where the model says so, strings, and floats otherwise."""
    assert value_type_of("duration_base_days", 90) == "int"
    assert value_type_of("SURE-BTC_tier", 1) == "int"
    assert value_type_of("SURE-BTC_allocation_percent", 25) == "float"
    assert value_type_of("SURE-BTC_curve_type", "flat") == "string"


@given(
    rates=st.dictionaries(asset, rate, min_size=1, max_size=5),
    tiers=st.dictionaries(st.sampled_from(["tier1", "tier2", "tier3"]), tier, max_size=3),
    days=st.integers(1, 365),
)
def test_pricing_round_trip(rates, tiers, days):
    """unflatten(flatten(doc)) gives back the same document for any pricing shape."""
    doc = {"base_rates": rates, "duration_base_days": days}
    if tiers:
        doc["size_discounts"] = tiers
    rows = {k: v for k, v, _ in flatten("pricing", doc)}
    assert unflatten("pricing", rows) == doc


@given(
    tranches=st.dictionaries(
        st.from_regex(r"SURE-[A-Z]{2,5}\+?", fullmatch=True),
        st.fixed_dictionaries(
            {"tier": st.integers(1, 9), "apy_min": rate, "curve_type": st.just("linear")}
        ),
        min_size=1,
        max_size=4,
    )
)
def test_tranche_round_trip(tranches):
    """Tranche rows map back to the same tranches."""
    doc = {"tranches": tranches}
    rows = {k: v for k, v, _ in flatten("tranche", doc)}
    assert unflatten("tranche", rows) == doc


def test_curve_steepness_keys_are_not_read_as_a_tranche():
    """`curve_steepness.sigmoidal` maps to `curve_steepness_sigmoidal` and back, beside tranches."""
    doc = {
        "curve_steepness": {"logarithmic": 9.0, "sigmoidal": 10.0, "exponential": 3.0},
        "tranches": {"SURE-BTC": {"tier": 1, "apy_min": 0.04}},
    }
    rows = {k: v for k, v, _ in flatten("tranche", doc)}
    assert rows == {
        "curve_steepness_logarithmic": 9.0,
        "curve_steepness_sigmoidal": 10.0,
        "curve_steepness_exponential": 3.0,
        "SURE-BTC_tier": 1,
        "SURE-BTC_apy_min": 0.04,
    }
    assert unflatten("tranche", rows) == doc
