"""Streaming per-tensor statistics for calibration; one small class each, chosen by name.

Every statistic has the same four methods:
    update(x)        fold in one batch (any shape, float)
    range()          (lo, hi) floats: the value range the quantizer should represent
    to_dict()        JSON-able state (for Calibration.save); from_dict(d) rebuilds it
and a `key` ("minmax", "percentile(99.99)", "log2hist") under which Calibration stores it.
`make_stat("percentile:99.9")`, `make_stat("minmax")`, `make_stat(Percentile(99))` build one.
"""
import math

import numpy as np

from .errors import CalibrationError


MAX_COUNT = 1 << 62              # counts are summed as int64


def _num(d, key, finite=True):
    """d[key] as a float; a string, null, bool, or (finite=True) NaN/Inf is a CalibrationError."""
    v = d[key]
    try:
        f = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    except OverflowError:                       # an integer beyond any float
        f = None
    if f is None or finite and not math.isfinite(f):
        raise CalibrationError(f"{key}={str(v)[:40]!r} is not a finite number")
    return f


def _count(d, key):
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_COUNT:
        raise CalibrationError(f"{key}={str(v)[:40]!r} is not a count (an integer 0..2**62)")
    return v


def _range_dict(d):
    """lo, hi, count of a saved statistic: numbers with lo <= hi (a statistic never updated,
    count 0, has none: it is refused, as no format can be chosen from it)."""
    count = _count(d, "count")
    lo, hi = _num(d, "lo"), _num(d, "hi")
    if lo > hi or count == 0:
        raise CalibrationError(f"range [{lo:g}, {hi:g}] over {count} values is empty")
    return lo, hi, count


class MinMax:
    """Exact running minimum and maximum."""

    key = "minmax"

    def __init__(self):
        self.lo, self.hi, self.count = np.inf, -np.inf, 0

    def update(self, x):
        if x.size:
            self.lo = min(self.lo, float(x.min()))
            self.hi = max(self.hi, float(x.max()))
            self.count += x.size

    def range(self):
        return self.lo, self.hi

    def to_dict(self):
        return {"type": "minmax", "lo": self.lo, "hi": self.hi, "count": self.count}

    @classmethod
    def from_dict(cls, d):
        s = cls()
        s.lo, s.hi, s.count = _range_dict(d)
        return s


class Percentile:
    """The p-th and (100-p)-th percentiles (numpy's linear interpolation), for 50 < p <= 100.

    Streams by keeping only the largest and the smallest k values seen, k = 2*(1 - p/100)*count
    + 64, so memory is O((1 - p/100) * count). Exact (equal to np.percentile over all data)
    whenever the kept tails suffice, which holds for shuffled data; a stream sorted in decreasing
    order of magnitude could make the estimate slightly less extreme.
    """

    def __init__(self, p=99.99):
        if not 50 < p <= 100:
            raise ValueError(f"Percentile p must be in (50, 100], got {p}")
        self.p, self.count = float(p), 0
        self.top = np.empty(0, np.float64)     # largest values
        self.bottom = np.empty(0, np.float64)  # smallest values, negated

    @property
    def key(self):
        return f"percentile({self.p:g})"

    def _keep(self, buf, flat, k_old):
        if buf.size >= k_old and buf.size:        # only values above the kept tail can enter
            flat = flat[flat > buf.min()]
        k = int(2 * (1 - self.p / 100) * self.count) + 64
        both = np.concatenate([buf, flat])
        return both if both.size <= k else np.partition(both, both.size - k)[-k:]

    def update(self, x):
        flat = np.asarray(x).ravel()
        k_old = int(2 * (1 - self.p / 100) * self.count) + 64
        self.count += flat.size
        self.top = self._keep(self.top, flat.astype(np.float64), k_old)
        self.bottom = self._keep(self.bottom, -flat.astype(np.float64), k_old)

    def _tail(self, buf):
        # Position of the p-th percentile among `count` sorted values, counted from the top.
        pos = self.p / 100 * (self.count - 1)
        from_top = (self.count - 1) - pos
        s = np.sort(buf)[::-1]
        i = int(np.floor(from_top))
        frac = from_top - i
        if i + 1 >= s.size:
            return float(s[min(i, s.size - 1)])
        return float(s[i] * (1 - frac) + s[i + 1] * frac)

    def range(self):
        if self.count == 0:
            return np.inf, -np.inf
        return -self._tail(self.bottom), self._tail(self.top)

    def to_dict(self):
        lo, hi = self.range()
        return {"type": "percentile", "p": self.p, "count": self.count, "lo": lo, "hi": hi}

    @classmethod
    def from_dict(cls, d):
        """A frozen summary: range() returns the saved (lo, hi); update() would restart it."""
        p = _num(d, "p")
        if not 50 < p <= 100:
            raise CalibrationError(f"percentile p={p:g} is not in (50, 100]")
        s = cls(p)
        lo, hi, _ = _range_dict(d)
        s.count = 1                               # one kept value per tail == the saved bound
        s.top, s.bottom = np.array([hi]), np.array([-lo])
        return s


class Log2Histogram:
    """Counts of floor(log2|x|) per integer bin (hls4ml-style profiling), plus exact min/max.

    Bins cover exponents [lo_exp, hi_exp); smaller magnitudes (and zeros) go to `zeros`,
    larger ones to the last bin. `range()` is the exact (min, max).
    """

    key = "log2hist"

    def __init__(self, lo_exp=-24, hi_exp=24):
        self.lo_exp, self.hi_exp = lo_exp, hi_exp
        self.counts = np.zeros(hi_exp - lo_exp, np.int64)
        self.zeros = 0
        self.minmax = MinMax()

    @property
    def edges(self):
        """Bin i holds magnitudes in [2**edges[i], 2**edges[i+1])."""
        return np.arange(self.lo_exp, self.hi_exp + 1)

    def update(self, x):
        x = np.asarray(x)
        self.minmax.update(x)
        # floor(log2|x|) straight from the IEEE exponent field (much faster than log2/frexp).
        if x.dtype == np.float32:
            e = ((x.ravel().view(np.int32) >> 23) & 0xFF).astype(np.int64) - 127
        else:
            x64 = np.ascontiguousarray(x, np.float64).ravel()
            e = ((x64.view(np.int64) >> 52) & 0x7FF) - 1023
        idx = np.clip(e - self.lo_exp + 1, 0, self.counts.size)   # 0: below 2**lo_exp (or zero)
        hist = np.bincount(idx, minlength=self.counts.size + 1)
        self.zeros += int(hist[0])
        self.counts += hist[1:]

    def range(self):
        return self.minmax.range()

    def to_dict(self):
        return {"type": "log2hist", "lo_exp": self.lo_exp, "hi_exp": self.hi_exp,
                "counts": self.counts.tolist(), "zeros": self.zeros,
                "minmax": self.minmax.to_dict()}

    @classmethod
    def from_dict(cls, d):
        lo_exp, hi_exp = d["lo_exp"], d["hi_exp"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo_exp, hi_exp)) \
                or not -1100 <= lo_exp < hi_exp <= 1100:
            raise CalibrationError(f"log2hist exponents [{lo_exp}, {hi_exp}) are not integers in "
                                   "-1100..1100 with lo_exp < hi_exp")
        s = cls(lo_exp, hi_exp)
        counts = d["counts"]
        if not isinstance(counts, list) or len(counts) != hi_exp - lo_exp or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_COUNT
                for c in counts):
            raise CalibrationError(f"log2hist counts are not {hi_exp - lo_exp} counts in 0..2**62")
        s.counts, s.zeros = np.array(counts, np.int64), _count(d, "zeros")
        if sum(counts) + s.zeros > MAX_COUNT:      # summed as int64: keep far from wrapping
            raise CalibrationError("log2hist counts sum to more than 2**62")
        s.minmax = MinMax.from_dict(d["minmax"])
        return s


STATS = {"minmax": MinMax, "percentile": Percentile, "log2hist": Log2Histogram}


def make_stat(spec):
    """A fresh statistic from a name ("minmax", "log2hist", "percentile", "percentile:99.9"),
    a class, or an instance (used as a template: a fresh copy with the same settings)."""
    if isinstance(spec, str):
        name, _, arg = spec.partition(":")
        if name not in STATS:
            raise ValueError(f"unknown statistic {spec!r}; choose from {sorted(STATS)}")
        return STATS[name](float(arg)) if arg else STATS[name]()
    if isinstance(spec, type):
        return spec()
    if isinstance(spec, Percentile):
        return Percentile(spec.p)
    if isinstance(spec, Log2Histogram):
        return Log2Histogram(spec.lo_exp, spec.hi_exp)
    return type(spec)()


def stat_from_dict(d):
    """Rebuild a saved statistic; CalibrationError (naming the field) for anything malformed."""
    if not isinstance(d, dict) or not isinstance(d.get("type"), str) or d["type"] not in STATS:
        raise CalibrationError(f"statistic {str(d)[:60]} has no known type ({sorted(STATS)})")
    try:
        return STATS[d["type"]].from_dict(d)
    except KeyError as e:
        raise CalibrationError(f"{d['type']} statistic lacks field {e}") from None
    except TypeError as e:
        raise CalibrationError(f"{d['type']} statistic is malformed ({e})") from None
