"""Budgets of `qsim search`: parsing with units, and checking a candidate's costs against them.

Bytes (--ram, --flash): an integer or decimal number, optionally followed by a unit:
    (none), B          bytes
    k, K, KiB, KB      1024 bytes (what "16 KB of RAM" means in a microcontroller's datasheet)
    kB                 1000 bytes (SI kilobyte: the one decimal unit)
    M, MiB, MB         1024 * 1024 bytes
e.g. 16k = 16K = 16KiB = 16KB = 16384, 16kB = 16000, 1.5k = 1536, 128k, 2M.
Instructions (--instructions): a count, optionally followed by k / K (1e3), M (1e6), G (1e9):
5M = 5000000 = 5e6, 2.5M, 800k.
Spaces between the number and the unit are allowed ("16 KiB"); anything else ("16 kb x", a
lower-case b, which means bits, a sign, NaN, inf, 0, a fraction of a byte or of an instruction)
is refused with an ArgumentError saying what is accepted.
"""
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..errors import ArgumentError

BYTE_UNITS = {"": 1, "B": 1, "k": 1024, "K": 1024, "KiB": 1024, "KB": 1024, "kB": 1000,
              "M": 1 << 20, "MiB": 1 << 20, "MB": 1 << 20}
COUNT_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 10 ** 6, "G": 10 ** 9}
LIMIT = 1 << 62
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d{1,3}))?\s*([A-Za-z]*)\s*")

BYTES_HELP = "k, K, KiB, KB = 1024; kB = 1000; M, MiB, MB = 1048576; e.g. 16k, 128KiB, 2M"
COUNT_HELP = "k = 1e3, M = 1e6, G = 1e9; e.g. 5M, 2.5M, 800k, 5000000"


def _parse(text, units, kind, what, helptext):
    if not isinstance(text, str):
        raise ArgumentError(f"{what}: expected text such as '16k', got {text!r}")
    m = _NUMBER.fullmatch(text)
    if not m:
        why = ""
        if text.strip().startswith("-"):
            why = " (a budget must be positive)"
        elif re.search(r"nan|inf", text, re.I):
            why = " (not a finite number)"
        raise ArgumentError(f"{what} {text!r} is not a {kind} budget{why}. help: a positive number "
                            f"with an optional unit: {helptext}")
    digits, exp, unit = m.groups()
    if unit not in units:
        hint = (" ('b' is bits; bytes are 'B', e.g. kB or KiB)" if unit.endswith("b") and kind == "byte"
                else "")
        raise ArgumentError(f"{what} {text!r}: unknown unit {unit!r}{hint}. help: {helptext}")
    try:
        value = Decimal(digits) * (Decimal(10) ** int(exp or 0)) * units[unit]
    except InvalidOperation:     # pragma: no cover - the regex admits only decimal numbers
        raise ArgumentError(f"{what} {text!r} is not a number. help: {helptext}") from None
    if value != value.to_integral_value():
        raise ArgumentError(f"{what} {text!r} = {value} is not a whole number of "
                            f"{kind}s. help: {helptext}")
    if value <= 0:
        raise ArgumentError(f"{what} {text!r}: a budget must be positive. help: {helptext}")
    if value > LIMIT:
        raise ArgumentError(f"{what} {text!r} is absurdly large (> 2**62). help: {helptext}")
    return int(value)


def parse_bytes(text, what="--ram"):
    """Bytes of a RAM or flash budget (see the module docstring for the units)."""
    return _parse(text, BYTE_UNITS, "byte", what, BYTES_HELP)


def parse_count(text, what="--instructions"):
    """An instruction count (decimal units k, M, G)."""
    return _parse(text, COUNT_UNITS, "instruction", what, COUNT_HELP)


COSTS = ("ram", "flash", "instructions")


@dataclass(frozen=True)
class Budget:
    """Upper bounds on a candidate's costs; None = unconstrained."""
    ram: int | None = None
    flash: int | None = None
    instructions: int | None = None

    def limits(self):
        return {c: getattr(self, c) for c in COSTS if getattr(self, c) is not None}

    def misses(self, costs) -> dict:
        """{cost: (value, limit)} of each constraint `costs` (a dict with COSTS) exceeds."""
        return {c: (costs[c], lim) for c, lim in self.limits().items() if costs[c] > lim}

    def violation(self, costs) -> float:
        """0 within the budget, else the summed relative excess (closeness to the budget)."""
        return sum(costs[c] / lim - 1 for c, lim in self.limits().items() if costs[c] > lim)

    def describe(self):
        parts = [f"{c} <= {fmt_cost(c, v)}" for c, v in self.limits().items()]
        return ", ".join(parts) if parts else "no budget"


def fmt_cost(cost, value):
    if cost == "instructions":
        return f"{value / 1e6:.3g}M" if value >= 10 ** 6 else f"{value:,}"
    return f"{value / 1024:.4g} KiB" if value >= 1024 else f"{value} B"
