"""Read integer arrays and integer `#define`s from C headers, without a C preprocessor or compiler.

What legacy CMSIS-NN deployments keep their networks in (ML-KWS-for-MCU's `*_weights.h` style):

    #define CONV1_WT {-3, 0x1f, 12, \\
                      ...}                     an array macro (line continuations)
    #define CONV1_BIAS_LSHIFT 2                an integer macro (shift)
    static const q7_t conv1_wt[] = CONV1_WT;   an array declared from a macro
    const q15_t fc_b[4] = {1, -2, 3, 4};       an array with its own initializer

`read_headers(paths)` returns {name: CValue}. A small tokenizer does it: comments, string and
character literals and line continuations are understood; numbers are decimal, hex (0x), octal
(leading 0) or binary (0b) with u/l suffixes, optionally negated or in parentheses. Nothing from
the file is ever executed, evaluated or used as code: every name must be a plain C identifier
(`NAME_RE`), every value an integer literal, and anything else (expressions, includes, other
macros) is skipped and listed in `HeaderContents.skipped`. A name defined twice with different
values is an error naming both places.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CHeaderError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT_TYPES = {"q7_t": 8, "int8_t": 8, "signed char": 8, "char": 8, "q15_t": 16, "int16_t": 16,
              "short": 16, "q31_t": 32, "int32_t": 32, "int": 32, "long": 32, "uint8_t": 8,
              "uint16_t": 16, "uint32_t": 32, "unsigned": 32}
_NUM = re.compile(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)([uUlL]*)\Z")
_TOKEN = re.compile(r"[ \t\f\v]*(?:(//[^\n]*)|(/\*.*?\*/)|(\"(?:\\.|[^\"\\\n])*\")|('(?:\\.|[^'\\\n])*')"
                    r"|([A-Za-z_][A-Za-z0-9_]*)|([0-9][0-9A-Za-z]*)|(\n)|(.))", re.S)
MAX_BYTES = 64 << 20
_LIMIT = (1 << 32) - 1


@dataclass
class CValue:
    """One integer array or scalar found in a header: where it is and what it holds."""

    name: str
    values: np.ndarray      # int64; shape (n,) for arrays, () for scalars
    where: str              # "file:line"
    ctype: str | None = None

    @property
    def is_array(self) -> bool:
        return self.values.ndim == 1


@dataclass
class HeaderContents:
    values: dict = field(default_factory=dict)     # name -> CValue
    skipped: list = field(default_factory=list)    # (where, text) not understood (ignored)

    def get(self, name, what):
        """The CValue `name` or a CHeaderError naming what needed it and the near names."""
        if name not in self.values:
            near = [n for n in self.values if n.lower() == str(name).lower()
                    or str(name).lower() in n.lower()][:5]
            raise CHeaderError(f"{what}: no array or #define named {name!r} in the headers"
                               + (f" (did you mean {', '.join(near)}?)" if near else
                                  f"; they define {len(self.values)} names"))
        return self.values[name]


def tokens(text, fname="<text>"):
    """[(kind, text, line)] with kind in name, num, punct, str, newline; comments dropped, line
    continuations joined (a continued line keeps the number of its first line)."""
    text = text.replace("\r\n", "\n").replace("\\\n", " \x00")
    out, line = [], 1
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:     # only trailing whitespace is left
            break
        pos = m.end()
        line_comment, block, string, char, name, num, newline, other = m.groups()
        if block is not None:
            line += block.count("\n") + block.count("\x00")
            continue
        if line_comment is not None:
            continue
        if newline is not None:
            out.append(("newline", "\n", line))
            line += 1
        elif string is not None or char is not None:
            out.append(("str", string or char, line))
        elif name is not None:
            out.append(("name", name, line))
        elif num is not None:
            out.append(("num", num, line))
        elif other == "/" and text.startswith("*", pos):
            raise CHeaderError(f"{fname}:{line}: unterminated /* comment")
        elif other == "\x00":
            line += 1
        elif other in "\"'":
            raise CHeaderError(f"{fname}:{line}: unterminated {'string' if other == chr(34) else 'character'} literal")
        else:
            out.append(("punct", other, line))
    return out


def parse_int(text):
    """A C integer literal (decimal, 0x hex, 0 octal, 0b binary, u/l suffixes) -> int, or None."""
    m = _NUM.match(text)
    if not m:
        return None
    digits = m.group(1)
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    if len(digits) > 1 and digits[0] == "0":
        return int(digits, 8) if all(c in "01234567" for c in digits) else None
    return int(digits)


def _value(toks, i, end):
    """An integer expression of the forms N, -N, +N, (N), (-N) in toks[i:end]; (value, next i)."""
    sign, depth = 1, 0
    while i < end and toks[i][1] in "(-+" and toks[i][0] == "punct":
        if toks[i][1] == "(":
            depth += 1
        elif toks[i][1] == "-":
            sign = -sign
        i += 1
    if i >= end or toks[i][0] != "num":
        return None, i
    v = parse_int(toks[i][1])
    if v is None:
        return None, i
    if v > _LIMIT:
        raise CHeaderError(f"line {toks[i][2]}: integer literal {toks[i][1][:40]} is out of range "
                           f"(more than 32 bits)")
    i += 1
    while depth and i < end and toks[i][1] == ")":
        depth, i = depth - 1, i + 1
    return (sign * v, i) if depth == 0 else (None, i)


def _braced(toks, i, end, where):
    """A brace initializer {v, v, ...} (nested braces flattened) starting at toks[i] == '{'."""
    vals, depth, expect_value = [], 0, True
    while i < end:
        kind, t, _ = toks[i]
        if kind == "punct" and t == "{":
            depth += 1
            i += 1
            continue
        if kind == "punct" and t == "}":
            depth -= 1
            i += 1
            if depth == 0:
                return vals, i
            continue
        if kind == "punct" and t == ",":
            if expect_value and vals:
                raise CHeaderError(f"{where}: empty element (two commas) in an initializer")
            expect_value = True
            i += 1
            continue
        v, j = _value(toks, i, end)
        if v is None:
            raise CHeaderError(f"{where}: element {len(vals)} of the initializer is not an integer "
                               f"literal ({toks[i][1]!r}); only integer literals are read")
        if not expect_value:
            raise CHeaderError(f"{where}: missing comma before element {len(vals)}")
        vals.append(v)
        expect_value = False
        i = j
    raise CHeaderError(f"{where}: unterminated {{ initializer")


def _lines(toks):
    """Split tokens into logical statements: preprocessor lines, and C statements ending in ';'."""
    i, n = 0, len(toks)
    while i < n:
        if toks[i][0] == "newline":
            i += 1
            continue
        start = i
        if toks[i][1] == "#":
            while i < n and toks[i][0] != "newline":
                i += 1
            yield "pp", toks[start:i]
        else:
            depth = 0
            while i < n and not (toks[i][1] == ";" and depth == 0 and toks[i][0] == "punct"):
                if toks[i][0] == "punct" and toks[i][1] in "{}":
                    depth += 1 if toks[i][1] == "{" else -1
                if toks[i][0] == "punct" and toks[i][1] == "#" and depth == 0:
                    break
                i += 1
            stmt = [t for t in toks[start:i] if t[0] != "newline"]
            if i < n and toks[i][1] == ";":
                i += 1
            if stmt:
                yield "c", stmt


def parse_header(text, fname="<text>", contents=None) -> HeaderContents:
    """Add the integer arrays and #defines of one header's text to `contents` (a new one if None)."""
    contents = contents if contents is not None else HeaderContents()
    toks = tokens(text, fname)
    macros_as_init = []
    for kind, stmt in _lines(toks):
        where = f"{fname}:{stmt[0][2]}"
        if kind == "pp":
            if len(stmt) < 3 or stmt[1][1] != "define" or stmt[2][0] != "name":
                continue
            name = stmt[2][1]
            body = stmt[3:]
            _define(contents, name, body, where)
        else:
            _declaration(contents, stmt, where, macros_as_init)
    for name, macro, ctype, declared, where in macros_as_init:
        if macro not in contents.values or not contents.values[macro].is_array:
            contents.skipped.append((where, f"{name} = {macro} (not an array #define)"))
            continue
        src = contents.values[macro]
        _check_declared(name, declared, src.values.size, where)
        _store(contents, CValue(name, src.values, where, ctype))
    return contents


def _define(contents, name, body, where):
    if not body:
        return
    if body[0][1] == "{":
        vals, j = _braced(body, 0, len(body), where)
        if j != len(body):
            contents.skipped.append((where, f"#define {name}: text after the initializer"))
            return
        _store(contents, CValue(name, np.asarray(vals, np.int64).reshape(-1), where))
        return
    v, j = _value(body, 0, len(body))
    if v is None or j != len(body):
        contents.skipped.append((where, f"#define {name} (not an integer literal)"))
        return
    _store(contents, CValue(name, np.asarray(v, np.int64), where))


def _declaration(contents, stmt, where, macros_as_init):
    """`[static] [const] TYPE NAME[N?] = {..} | MACRO` (qualifiers and attributes before '=')."""
    words = [t for t in stmt]
    if not any(t[1] == "=" for t in words):
        return
    eq = next(k for k, t in enumerate(words) if t[1] == "=")
    left = words[:eq]
    if len(left) < 3 or left[-1][1] != "]":
        return
    try:
        lb = max(k for k, t in enumerate(left) if t[1] == "[")
    except ValueError:
        return
    if lb < 1 or left[lb - 1][0] != "name":
        return
    name = left[lb - 1][1]
    declared = None
    if lb + 2 < len(left):
        declared, _ = _value(left, lb + 1, len(left) - 1)
    type_words = " ".join(t[1] for t in left[:lb - 1] if t[0] == "name"
                          and t[1] not in ("static", "const", "volatile", "extern"))
    ctype = next((ty for ty in sorted(_INT_TYPES, key=len, reverse=True) if type_words.endswith(ty)),
                 None)
    if ctype is None:
        contents.skipped.append((where, f"{name}: element type {type_words!r} is not an integer type"))
        return
    right = words[eq + 1:]
    if right and right[0][1] == "{":
        vals, j = _braced(right, 0, len(right), where)
        _check_declared(name, declared, len(vals), where)
        _store(contents, CValue(name, np.asarray(vals, np.int64).reshape(-1), where, ctype))
    elif len(right) == 1 and right[0][0] == "name":
        macros_as_init.append((name, right[0][1], ctype, declared, where))


def _check_declared(name, declared, n, where):
    if declared is not None and declared != n:
        raise CHeaderError(f"{where}: array {name} is declared with {declared} elements but its "
                           f"initializer has {n}")


def _store(contents, value):
    if not NAME_RE.match(value.name):     # pragma: no cover - the tokenizer only makes identifiers
        raise CHeaderError(f"{value.where}: {value.name!r} is not a C identifier")
    old = contents.values.get(value.name)
    if old is not None and not (old.values.shape == value.values.shape
                                and np.array_equal(old.values, value.values)):
        raise CHeaderError(f"{value.where}: {value.name} is defined again with other values "
                           f"(first at {old.where})")
    contents.values.setdefault(value.name, value)


def read_headers(paths) -> HeaderContents:
    """Parse every header in `paths` (in order) into one HeaderContents."""
    contents = HeaderContents()
    for p in paths:
        p = Path(p)
        try:
            if p.stat().st_size > MAX_BYTES:
                raise CHeaderError(f"{p}: {p.stat().st_size} bytes; headers above "
                                   f"{MAX_BYTES >> 20} MiB are refused")
            text = p.read_text(encoding="utf-8", errors="strict")
        except FileNotFoundError:
            raise CHeaderError(f"{p}: no such header file") from None
        except UnicodeDecodeError:
            try:
                text = p.read_text(encoding="latin-1")
            except OSError as e:
                raise CHeaderError(f"{p}: cannot read ({e})") from None
        except (OSError, IsADirectoryError) as e:
            raise CHeaderError(f"{p}: cannot read ({e.strerror or e})") from None
        parse_header(text, str(p), contents)
    return contents
