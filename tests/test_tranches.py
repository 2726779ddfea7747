"""Tranche APYs along each curve and the split of capital across tranches."""

from __future__ import annotations

import dataclasses
import math

import pytest
from seed_values import STEEPNESS, TRANCHES

from tonsurance.config.model import Tranche
from tonsurance.errors import InvalidConfig, UsageProblem
from tonsurance.tranches import allocate_capital, apy_table, curve_shape, tranche_apy

BY_ID = {t.id: t for t in TRANCHES}
GRID = [i / 100 for i in range(101)]


@pytest.mark.parametrize("tranche", TRANCHES, ids=lambda t: t.id)
def test_every_curve_hits_min_at_zero_and_max_at_one(tranche: Tranche) -> None:
    """Each curve is exactly apy_min at utilization 0 and apy_max at 1."""
    assert tranche_apy(tranche, 0.0, STEEPNESS) == tranche.apy_min
    assert tranche_apy(tranche, 1.0, STEEPNESS) == tranche.apy_max


@pytest.mark.parametrize("tranche", TRANCHES, ids=lambda t: t.id)
def test_utilization_outside_the_unit_interval_is_clamped(tranche: Tranche) -> None:
    """Utilization below 0 prices as 0 and above 1 as 1."""
    assert tranche_apy(tranche, -0.5, STEEPNESS) == tranche.apy_min
    assert tranche_apy(tranche, 1.7, STEEPNESS) == tranche.apy_max


@pytest.mark.parametrize(
    "curve", ["logarithmic", "linear", "sigmoidal", "quadratic", "exponential"]
)
def test_rising_curves_are_strictly_increasing(curve: str) -> None:
    """Every curve but flat rises strictly between 0 and 1."""
    shapes = [curve_shape(curve, u, STEEPNESS) for u in GRID]
    assert all(a < b for a, b in zip(shapes, shapes[1:]))
    assert shapes[0] == 0.0 and shapes[-1] == 1.0


def test_flat_curve_stays_at_its_rate() -> None:
    """SURE-BTC pays 4% at any utilization."""
    assert {tranche_apy(BY_ID["SURE-BTC"], u, STEEPNESS) for u in GRID} == {0.04}


def test_curve_values_in_the_middle_match_hand_computation() -> None:
    """Each curve's formula gives the hand-computed APY at a chosen utilization."""
    # linear: 0.09 + 0.06 * 0.5 = 0.12
    assert tranche_apy(BY_ID["SURE-MEZZ"], 0.5, STEEPNESS) == pytest.approx(0.12)
    # quadratic: 0.16 + 0.06 * 0.5^2 = 0.175
    assert tranche_apy(BY_ID["SURE-JNR+"], 0.5, STEEPNESS) == pytest.approx(0.175)
    # logarithmic, k = 9: log(1 + 9/9) / log(10) = log10(2) = 0.30103; 0.065 + 0.035 * that
    assert tranche_apy(BY_ID["SURE-SNR"], 1 / 9, STEEPNESS) == pytest.approx(0.0755360498)
    # sigmoidal: symmetric about 0.5, so exactly halfway: 0.125 + 0.035 / 2 = 0.1425
    assert tranche_apy(BY_ID["SURE-JNR"], 0.5, STEEPNESS) == pytest.approx(0.1425)
    # exponential, k = 3: (e - 1) / (e^3 - 1) = 0.0900306; 0.15 + 0.10 * that
    assert tranche_apy(BY_ID["SURE-EQT"], 1 / 3, STEEPNESS) == pytest.approx(0.1590030573)


def test_sigmoid_is_slow_at_the_ends_and_steep_in_the_middle() -> None:
    """The sigmoidal curve moves less over [0, 0.1] than over [0.45, 0.55]."""
    edge = curve_shape("sigmoidal", 0.1, STEEPNESS) - curve_shape("sigmoidal", 0.0, STEEPNESS)
    middle = curve_shape("sigmoidal", 0.55, STEEPNESS) - curve_shape("sigmoidal", 0.45, STEEPNESS)
    assert middle > 5 * edge


def test_unknown_curve_is_a_config_error() -> None:
    """A curve type outside the enum is refused with the list of known ones."""
    odd = dataclasses.replace(BY_ID["SURE-MEZZ"], curve_type="cubic")
    with pytest.raises(InvalidConfig, match="unknown curve type 'cubic'"):
        tranche_apy(odd, 0.5, STEEPNESS)


def test_apy_table_lists_each_tranche_at_each_utilization() -> None:
    """The table has one row per tranche with one APY per utilization."""
    table = apy_table(TRANCHES, [0.0, 0.5, 1.0], STEEPNESS)
    assert list(table) == [t.id for t in TRANCHES]
    assert table["SURE-MEZZ"] == pytest.approx((0.09, 0.12, 0.15))
    assert table["SURE-BTC"] == (0.04, 0.04, 0.04)


def test_allocation_follows_the_percentages() -> None:
    """$1,000,000 splits 25/20/18/15/12/10 percent, in cents."""
    assert allocate_capital(TRANCHES, 1_000_000) == {
        "SURE-BTC": 25_000_000,
        "SURE-SNR": 20_000_000,
        "SURE-MEZZ": 18_000_000,
        "SURE-JNR": 15_000_000,
        "SURE-JNR+": 12_000_000,
        "SURE-EQT": 10_000_000,
    }


def test_leftover_cents_go_to_the_largest_remainders() -> None:
    """7 cents split as 1.75/1.40/1.26/1.05/0.84/0.70 round to 2/1/1/1/1/1."""
    # floors 1,1,1,1,0,0 leave 3 cents; remainders .84 (JNR+), .75 (BTC), .70 (EQT) win them
    assert allocate_capital(TRANCHES, 0.07) == {
        "SURE-BTC": 2,
        "SURE-SNR": 1,
        "SURE-MEZZ": 1,
        "SURE-JNR": 1,
        "SURE-JNR+": 1,
        "SURE-EQT": 1,
    }
    # one cent: the largest share (25%) takes it
    assert allocate_capital(TRANCHES, 0.01)["SURE-BTC"] == 1


@pytest.mark.parametrize("capital", [0, 0.01, 0.99, 123_456.78, 9_999_999.99, 31_415_926.53])
def test_allocation_sums_exactly_to_the_capital(capital: float) -> None:
    """The allocated cents always add up to the capital in cents."""
    allocation = allocate_capital(TRANCHES, capital)
    assert sum(allocation.values()) == round(capital * 100)
    for t in TRANCHES:
        exact = capital * 100 * t.allocation_percent / 100
        assert abs(allocation[t.id] - exact) < 1


def test_allocation_of_a_subset_uses_its_own_percent_total() -> None:
    """Two tranches of 25% and 10% split $70 as 50 and 20."""
    subset = [BY_ID["SURE-BTC"], BY_ID["SURE-EQT"]]
    assert allocate_capital(subset, 70) == {"SURE-BTC": 5_000, "SURE-EQT": 2_000}


def test_negative_capital_is_refused() -> None:
    """A negative capital is a usage error."""
    with pytest.raises(UsageProblem):
        allocate_capital(TRANCHES, -1)


def test_curve_steepness_is_the_configured_parameter() -> None:
    """Another steepness in the configuration bends the curves as the formulas say."""
    other = dataclasses.replace(STEEPNESS, logarithmic=99.0, exponential=1.0, sigmoidal=4.0)
    # logarithmic, k = 99: log(1 + 99/99) / log(100) = log(2) / log(100); 0.065 + 0.035 * that
    expected = 0.065 + 0.035 * math.log(2) / math.log(100)
    assert tranche_apy(BY_ID["SURE-SNR"], 1 / 99, other) == pytest.approx(expected)
    assert tranche_apy(BY_ID["SURE-SNR"], 1 / 99, STEEPNESS) != pytest.approx(expected)
    # exponential, k = 1: (e^(1/2) - 1) / (e - 1)
    expected = 0.15 + 0.10 * math.expm1(0.5) / math.expm1(1.0)
    assert tranche_apy(BY_ID["SURE-EQT"], 0.5, other) == pytest.approx(expected)
    # sigmoidal stays symmetric about one half whatever its steepness, and is gentler at k = 4
    assert tranche_apy(BY_ID["SURE-JNR"], 0.5, other) == pytest.approx(0.1425)
    gentle = curve_shape("sigmoidal", 0.1, other)
    assert gentle > curve_shape("sigmoidal", 0.1, STEEPNESS)
