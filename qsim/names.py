"""Names are data, never code: the one place that turns a user's name into generated text.

Graph, node and tensor names come from model files written by anyone (an ONNX file, model.json)
and reach C identifiers, file names, C comments, Makefile and CMake snippets. Everything the
generators write from a name goes through one of these functions:

    c_ident(text)        a C identifier part: ASCII letters, digits, single '_' (no leading digit,
                         no '__', no leading/trailing '_', at most 40 characters); never empty.
    c_prefix(text)       the symbol and file prefix of a generated network: c_ident (at most 24
                         characters, so `<prefix>_run` stays within C99's 31), lower case,
                         and `net_` in front when it could shadow a header or symbol of CMSIS,
                         the C library, C or C++ keywords, or qsim's harness (`arm_nnfunctions`,
                         `arm_math`, `string`, `int`, `qsim_...`).
    Namer                hands out unique identifiers: a second name mapping to the same
                         identifier (`a-b` and `a_b`) gets `_2`, `_3`, ... in the order asked
                         (deterministic: graph order).
    comment_text(text)   printable ASCII that is inert inside a C block comment, a `//` line, a
                         Make or CMake `#` comment and a C string: `*`, `/`, `\\`, `?`, `$`, quotes,
                         `#`, control and non-ASCII characters are written as `\\xNN` / `\\uNNNN`,
                         and long names are cut with `...`. Never contains a newline.
    make_comment(text)   one `# ...` line of inert text (Make and CMake); refuses anything else.

The original names are kept in the model file; generated code only shows escaped copies.
"""
import re

# C11 and C++17 keywords (the header is included from C++ through extern "C") and the standard
# macros a prefix could redefine through its include guard or #defines
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
_Static_assert _Thread_local bool true false alignas alignof and and_eq asm bitand bitor catch
char16_t char32_t class compl constexpr const_cast decltype delete dynamic_cast explicit export
friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected
public reinterpret_cast static_assert static_cast template this thread_local throw try typeid
typename using virtual wchar_t xor xor_eq NULL EOF main errno assert offsetof
""".split())
# headers the generated code or the harness includes (by stem): a generated `<prefix>.h` with
# one of these names in an -I folder would be included instead of the real one
C_HEADERS = frozenset("""
assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal stdalign
stdarg stdatomic stdbool stddef stdint stdio stdlib stdnoreturn string tgmath threads time uchar
wchar wctype unistd
""".split())
# prefixes of CMSIS (headers arm_nnfunctions.h, arm_math.h, cmsis_compiler.h, core_cm4.h ...;
# functions arm_*) and of qsim's harness symbols (qsim_tap, qsim_host_*, qsim_net_*)
RESERVED_STARTS = ("arm_", "cmsis_", "core_", "qsim_", "system_", "startup_")
RESERVED_EXACT = frozenset({"arm", "cmsis", "core", "qsim", "nn", "dsp", "arm_math",
                            "arm_nnfunctions"})
# names the C library reserves for its future functions and macros (C11 7.31): is*/to*/str*/
# mem*/wcs* functions; E<digit|upper>, SIG<upper>, LC_<upper> macros (the prefix in upper case)
RESERVED_C_LIBRARY = re.compile(r"(is|to|str|mem|wcs)[a-z]|e[0-9a-z]|sig[a-z_]|lc_[a-z]")
IDENT_MAX = 40              # characters of a name kept in an identifier (C99: 31 significant in
PREFIX_MAX = 24             # external names; file names stay far below 255 bytes)
COMMENT_MAX = 80            # characters of a name shown in a comment (escaped) before "..."
SAFE_COMMENT = re.compile(r"[A-Za-z0-9 _.,:;+=@()<>\[\]{}|~^!%&-]")


def c_ident(text, fallback="n", limit=IDENT_MAX):
    """A C identifier part for `text`: every other character becomes '_', runs of '_' collapse,
    no leading digit, no leading or trailing '_', at most `limit` characters; `fallback` when
    nothing is left."""
    out = re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")
    if not out:
        out = fallback
    out = f"n{out}" if out[0].isdigit() else out
    return out[:limit].rstrip("_")


def c_prefix(text, fallback="net"):
    """The lower-case prefix of a generated network's symbols and files (see module docstring)."""
    p = c_ident(text, fallback, PREFIX_MAX).lower()
    if (p in C_KEYWORDS or p in C_HEADERS or p in RESERVED_EXACT or p.startswith(RESERVED_STARTS)
            or p.upper() in C_KEYWORDS or RESERVED_C_LIBRARY.match(p)):
        p = f"net_{p}"[:PREFIX_MAX].rstrip("_")
    return p


class Namer:
    """Unique C identifiers: `take(wanted)` returns `wanted`, or `wanted_2`, `wanted_3`, ... if an
    earlier take (or `reserved`) already has it."""

    def __init__(self, reserved=()):
        self.used = set(reserved)

    def take(self, wanted):
        name, k = wanted, 2
        while name in self.used:
            name, k = f"{wanted}_{k}", k + 1
        self.used.add(name)
        return name


def _escape(ch):
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def comment_text(text, limit=COMMENT_MAX):
    """`text` as inert printable ASCII for a comment (see module docstring); at most about `limit`
    source characters, then '...'."""
    text = str(text)
    cut = len(text) > limit
    out = "".join(ch if SAFE_COMMENT.fullmatch(ch) else _escape(ch) for ch in text[:limit])
    return out + ("..." if cut else "")


def make_comment(text):
    """One Make / CMake `# ...` line of `text`, which must already be inert (our own words plus
    comment_text pieces): printable ASCII, no `$`, no backslash at the end."""
    text = str(text)
    if not re.fullmatch(r"[ -~]*", text) or "$" in text or text.endswith("\\"):
        raise ValueError(f"not an inert comment text: {text!r}")
    return "# " + text
