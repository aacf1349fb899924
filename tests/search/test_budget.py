"""Budget parsing (qsim.search.budget): every accepted spelling gives the documented value, and
anything else is an ArgumentError naming the units (never another exception)."""
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qsim.errors import ArgumentError
from qsim.search.budget import BYTE_UNITS, COUNT_UNITS, Budget, parse_bytes, parse_count


@pytest.mark.parametrize("text, value", [
    ("16k", 16384), ("16K", 16384), ("16KiB", 16384), ("16KB", 16384), ("16 KiB", 16384),
    ("16kB", 16000), ("128k", 131072), ("1.5k", 1536), ("2M", 2 << 20), ("2MiB", 2 << 20),
    ("2MB", 2 << 20), ("300", 300), ("300B", 300), (" 64k ", 65536), ("1e3", 1000)])
def test_bytes_examples(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text, value", [
    ("5M", 5_000_000), ("5000000", 5_000_000), ("2.5M", 2_500_000), ("800k", 800_000),
    ("800K", 800_000), ("1G", 10 ** 9), ("5e6", 5_000_000)])
def test_count_examples(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text, why", [
    ("16 kb x", "not a byte budget"), ("16kb", "bits"), ("-16k", "positive"), ("nan", "finite"),
    ("inf", "finite"), ("0", "positive"), ("0k", "positive"), ("1.5", "whole number"),
    ("", "not a byte budget"), ("k", "not a byte budget"), ("16 k k", "not a byte budget"),
    ("16Kib", "unknown unit"), ("1e30M", "absurdly"), ("16mB", "unknown unit")])
def test_bytes_refused(text, why):
    with pytest.raises(ArgumentError, match=why) as e:
        parse_bytes(text, "--ram")
    assert "--ram" in str(e.value) and "help:" in str(e.value)


@pytest.mark.parametrize("text", ["5MB", "5MiB", "5 M x", "-5M", "NaN", "0.5", "5m"])
def test_count_refused(text):
    with pytest.raises(ArgumentError, match="--instructions"):
        parse_count(text)


@given(st.integers(1, 10 ** 12), st.sampled_from(sorted(BYTE_UNITS)), st.booleans())
def test_bytes_any_integer_and_unit(n, unit, space):
    assert parse_bytes(f"{n}{' ' if space else ''}{unit}") == n * BYTE_UNITS[unit]


@given(st.integers(1, 10 ** 9), st.sampled_from(sorted(COUNT_UNITS)))
def test_count_any_integer_and_unit(n, unit):
    assert parse_count(f"{n}{unit}") == n * COUNT_UNITS[unit]


@given(st.text(max_size=12))
def test_arbitrary_text_parses_or_is_refused_cleanly(text):
    for parse in (parse_bytes, parse_count):
        try:
            v = parse(text)
        except ArgumentError:
            continue
        assert isinstance(v, int) and v > 0


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_text(f):
    """A float's repr is accepted exactly when it is a positive whole number (decimal value)."""
    text = repr(f)
    try:
        v = parse_count(text)
    except ArgumentError:
        assert not (math.isfinite(f) and f >= 1 and Decimal(text) == int(Decimal(text))
                    and Decimal(text) <= 2 ** 62)
        return
    assert math.isfinite(f) and f > 0 and v == Decimal(text)


def test_budget_checks():
    b = Budget(ram=1000, instructions=10)
    costs = {"ram": 1500, "flash": 10 ** 9, "instructions": 10}
    assert b.misses(costs) == {"ram": (1500, 1000)}
    assert b.violation(costs) == pytest.approx(0.5)
    assert Budget().misses(costs) == {} and Budget().violation(costs) == 0
