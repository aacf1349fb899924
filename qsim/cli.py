"""`qsim` command line: one module per subcommand in qsim/commands/, each with register() and run().

A QsimError becomes one clean line on stderr and exit status 2; a mismatch found by a parity
command is exit status 1. Each run() imports what it uses inside the function: the parser
imports every command module, so `qsim --help` stays fast (no numba, onnx or matplotlib).
"""
import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import QsimError

# Order = order in `qsim --help`.
COMMANDS = ("demo", "parity_kernels", "data", "train", "calibrate", "quantize", "evaluate", "report",
            "qat", "search", "codegen", "parity", "kws", "fetch_cmsis", "import_c", "diverge")


def build_parser():
    parser = argparse.ArgumentParser(prog="qsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"qsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"qsim.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"qsim.commands.{name}":
                raise
            continue
        p = mod.register(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except QsimError as e:
        print(f"qsim {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
