"""Erlang B/C/A: textbook values, identities between them, stability for big desks."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from chatserver.core.erlang import (
    erlang_a_distribution,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    staff_for,
)


def exact_erlang_c(c: int, a: Fraction) -> Fraction:
    """The textbook closed form with factorials, exact in rationals (small c only)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_textbook_values() -> None:
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-5)
    assert erlang_b(10, 8.0) == pytest.approx(0.1217, abs=5e-5)
    assert erlang_b(1, 1.0) == 0.5 and erlang_c(1, 0.5) == pytest.approx(0.5)


@pytest.mark.parametrize(("c", "a"), [(1, "1/3"), (3, "5/2"), (7, "4"), (20, "19"), (40, "25")])
def test_erlang_c_matches_the_exact_closed_form(c: int, a: str) -> None:
    assert erlang_c(c, float(Fraction(a))) == pytest.approx(
        float(exact_erlang_c(c, Fraction(a))), rel=1e-12)


def test_erlang_c_figures() -> None:
    # c = 10 agents, 8 Erlangs, 180 s handle time, 20 s target.
    m = erlang_c_metrics(10, 8 / 180, 180.0, 20.0)
    assert m.asa == pytest.approx(0.4092 * 180 / 2, rel=1e-3)  # C / (c mu - lambda)
    assert m.service_level == pytest.approx(1 - 0.40918 * math.exp(-2 / 180 * 20), rel=1e-4)
    assert m.occupancy == pytest.approx(0.8) and m.abandon_rate == 0.0
    with pytest.raises(ValueError, match="unstable"):
        erlang_c_metrics(10, 10 / 180, 180.0, 20.0)
    assert erlang_c(10, 10.0) == 1.0


def test_stable_for_big_desks() -> None:
    for c in (500, 2000):
        p = erlang_c(c, 0.96 * c)
        assert 0.0 < p < 1.0 and math.isfinite(p)
    # More load, more waiting; more agents, less.
    assert erlang_c(500, 470.0) < erlang_c(500, 480.0) < erlang_c(500, 490.0)
    assert erlang_c(501, 480.0) < erlang_c(500, 480.0)
    a = erlang_a_metrics(500, 520 / 300, 300.0, 60.0, 20.0)  # overloaded: only Erlang A copes
    assert 0 < a.abandon_rate < 0.1 and 0.9 < a.occupancy <= 1.0
    assert math.isclose(sum(erlang_a_distribution(500, 520 / 300, 300.0, 60.0)), 1.0)


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    c = erlang_c_metrics(10, 8 / 180, 180.0, 20.0)
    a = erlang_a_metrics(10, 8 / 180, 180.0, 1e8, 20.0)
    for key in ("p_wait", "service_level", "asa", "occupancy"):
        assert getattr(a, key) == pytest.approx(getattr(c, key), rel=1e-4)
    assert a.abandon_rate < 1e-6


def test_erlang_a_identities() -> None:
    lam, h, patience, c = 9 / 180, 180.0, 120.0, 10
    m = erlang_a_metrics(c, lam, h, patience, 20.0)
    # Flow balance: answered chats keep the slots busy.
    assert m.occupancy * c / h == pytest.approx(lam * (1 - m.abandon_rate), rel=1e-9)
    # No time at all: answered in time = not waiting; unlimited time = answered at all.
    assert erlang_a_metrics(c, lam, h, patience, 0.0).service_level == pytest.approx(
        1 - m.p_wait)
    assert erlang_a_metrics(c, lam, h, patience, 1e5).service_level == pytest.approx(
        1 - m.abandon_rate, abs=1e-9)
    assert 0 < m.abandon_rate < m.p_wait < 1 and m.asa > 0


def test_staffing() -> None:
    agents = staff_for(10 / 60, 300.0, 20.0, 0.8)
    assert erlang_c_metrics(agents, 10 / 60, 300.0, 20.0).service_level >= 0.8
    assert erlang_c_metrics(agents - 1, 10 / 60, 300.0, 20.0).service_level < 0.8
    pairs = staff_for(10 / 60, 300.0, 20.0, 0.8, concurrency=2)
    assert agents / 2 <= pairs < agents  # two chats each: fewer agents, same slots or fewer
    assert staff_for(10 / 60, 300.0, 20.0, 0.8, patience=60.0) <= agents
