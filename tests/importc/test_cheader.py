"""The C header tokenizer: random names, values and formatting read back exactly; hostile text
never becomes anything but data (names are C identifiers, values integer literals)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsim.errors import CHeaderError
from qsim.importers.cheader import NAME_RE, parse_header, read_headers

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda s: s not in ("define", "static", "const", "include"))


def literal(draw, v):
    """v as a C literal in a random base, with random parentheses and suffixes."""
    style = draw(st.sampled_from(["dec", "hex", "HEX", "oct", "bin", "paren"]))
    mag = abs(v)
    body = {"dec": str(mag), "hex": hex(mag), "HEX": "0X" + format(mag, "X"),
            "oct": ("0" + format(mag, "o")) if mag else "0", "bin": bin(mag),
            "paren": f"({mag})"}[style]
    if draw(st.booleans()) and style != "paren":
        body += draw(st.sampled_from(["u", "L", "UL"])) if v >= 0 else ""
    return ("-" + body if v < 0 else body) if style != "paren" or v >= 0 else f"(-{mag})"


@st.composite
def header(draw):
    n = draw(st.integers(1, 5))
    names = draw(st.lists(NAMES, min_size=n, max_size=n, unique=True))
    parts, want = [], {}
    for name in names:
        bits = draw(st.sampled_from([8, 16]))
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        kind = draw(st.sampled_from(["define_array", "decl", "define_scalar", "decl_from_macro"]))
        sep = lambda: draw(st.sampled_from([", ", ",", " , ", ",\\\n  ", ", /* c */ ", ",\n   "]))
        if kind == "define_scalar":
            v = draw(st.integers(0, 31))
            parts.append(f"#define {name} {literal(draw, v)}" + draw(st.sampled_from(["", " // shift", " /* x */"])))
            want[name] = np.asarray(v)
            continue
        vals = draw(st.lists(st.integers(lo, hi), min_size=1, max_size=40))
        items = [literal(draw, v) for v in vals]
        body = items[0]
        for it in items[1:]:
            s = sep()
            if kind in ("define_array", "decl_from_macro") and "\n" in s and "\\" not in s:
                s = ",\\\n "
            body += s + it
        ctype = "q7_t" if bits == 8 else "q15_t"
        if kind == "define_array":
            parts.append(f"#define {name} {{{body}}}")
        elif kind == "decl":
            dim = draw(st.sampled_from(["", str(len(vals))]))
            q = draw(st.sampled_from(["static const ", "const ", ""]))
            parts.append(f"{q}{ctype} {name}[{dim}] = {{{body}}};")
        else:
            macro = name + "_M"             # made unique against every name and earlier macro
            while macro in names or macro in want:
                macro += "M"
            parts.append(f"#define {macro} {{{body}}}")
            parts.append(f"static const {ctype} {name}[] = {macro};")
            want[macro] = np.asarray(vals)
        want[name] = np.asarray(vals)
    junk = draw(st.sampled_from(["", "/* header */\n", "#include <stdint.h>\n", "// x\n",
                                 '#define S "a { 1, 2 } /* not"\n']))
    return junk + "\n".join(parts) + "\n", want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header())
def test_round_trip(case):
    text, want = case
    got = parse_header(text, "t.h").values
    for name, vals in want.items():
        assert name in got, (name, text)
        assert np.array_equal(got[name].values, vals), (name, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_is_only_data(text):
    try:
        c = parse_header(text, "t.h")
    except CHeaderError:
        return
    for name, v in c.values.items():
        assert NAME_RE.match(name)
        assert v.values.dtype == np.int64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["#define", " ", "\n", "{", "}", ",", "(", ")", "-", "0x1F", "12",
                                 "__import__", "os", ".", "system", '"', "'", "rm -rf", "/*", "*/",
                                 "//", "\\\n", "q7_t", "=", ";", "[", "]", "A", "exec"]),
                max_size=60))
def test_hostile_fragments(frags):
    text = "".join(frags)
    try:
        c = parse_header(text, "t.h")
    except CHeaderError:
        return
    assert all(NAME_RE.match(n) for n in c.values)


def test_hostile_names_stay_data(tmp_path):
    text = ('#define __import__("os").system("touch PWNED") {1}\n'
            '#define X$Y {1, 2}\n#define GOOD {1, 2}\n'
            'const q7_t evil[] = {__import__};\n')
    with pytest.raises(CHeaderError, match="not an integer literal"):
        parse_header(text, "t.h")
    c = parse_header(text.rsplit("\n", 2)[0] + "\n", "t.h")
    assert set(c.values) == {"GOOD"}
    assert not (tmp_path / "PWNED").exists()


def test_errors_name_the_place(tmp_path):
    p = tmp_path / "w.h"
    p.write_text("/* a */\nconst q7_t a[3] = {1, 2};\n")
    with pytest.raises(CHeaderError, match=r"w.h:2: array a is declared with 3 elements but its "
                                           r"initializer has 2"):
        read_headers([p])
    p.write_text("#define A {1, 2}\n#define A {1, 3}\n")
    with pytest.raises(CHeaderError, match=r"w.h:2: A is defined again .*first at .*w.h:1"):
        read_headers([p])
    with pytest.raises(CHeaderError, match="no such header"):
        read_headers([tmp_path / "missing.h"])
    p.write_text("#define A {1, 2,, 3}\n")
    with pytest.raises(CHeaderError, match="empty element"):
        read_headers([p])


def test_octal_and_suffixes():
    c = parse_header("#define A {010, 0x10, 0b10, 10u, -0x7F, (-(3))}\n#define S 010\n").values
    assert c["A"].values.tolist() == [8, 16, 2, 10, -127, -3]
    assert int(c["S"].values) == 8


@settings(max_examples=100, deadline=None)
@given(st.integers(-(1 << 80), 1 << 80), st.sampled_from(["#define A {}\n", "#define A {}u\n",
                                                           "const q7_t a[] = {{{}}};\n"]))
def test_huge_literals_are_errors_not_crashes(v, form):
    try:
        c = parse_header(form.format(v), "t.h")
    except CHeaderError as e:
        assert "out of range" in str(e) or "not an integer literal" in str(e)
        assert abs(v) > (1 << 32) - 1 or "u" in form
        return
    assert abs(v) <= (1 << 32) - 1
    if c.values:
        assert int(np.asarray(next(iter(c.values.values())).values).reshape(-1)[0]) == v
