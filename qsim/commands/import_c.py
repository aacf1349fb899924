"""`qsim import-c`: a hand-quantized CMSIS-NN network (C weight arrays + shift #defines) -> QMODEL.

Reads the integer arrays (`#define NAME {...}`, `const q7_t name[] = {...}`) and integer #defines
of the headers with a small tokenizer (no preprocessor, nothing from the files runs), takes the
layer order, kernels, array / shift names and geometry from SPEC (JSON or TOML, see
qsim.importers.cnet), checks every layer against its kernel's constraints and writes the
quantized model folder (model.json + model.npz) that simulate, codegen and parity read. With
--data, it also lints the network on that data for the chosen release and path (qsim.lint).
"""
import argparse

EPILOG = """\
example:
  qsim import-c ds_cnn_weights.h ds_cnn.h --spec ds_cnn.json --path dsp --release 5.7.0 \\
      --data features.npy -o ds_cnn_q7/
"""

def register(subparsers):
    p = subparsers.add_parser("import-c", help="import a CMSIS-NN network from C headers + a spec",
                              description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    from qsim.releases import PATHS, VERSIONS     # plain Python: --help stays fast
    p.add_argument("headers", nargs="+", metavar="HEADER", help="C headers with the arrays and shifts")
    p.add_argument("--spec", required=True, metavar="SPEC", help="layer list (.json or .toml)")
    p.add_argument("--path", choices=PATHS, default=None,
                   help="CMSIS-NN code path the device runs (default: the spec's, else ref)")
    p.add_argument("--release", choices=VERSIONS, default=None,
                   help="CMSIS_5 release the device runs (default: the spec's, else 5.9.0)")
    p.add_argument("--data", default=None, metavar="X.npy",
                   help="inputs (floats, or integers of the input format) to lint the network on")
    p.add_argument("-o", "--output", required=True, metavar="QMODEL_DIR", help="folder to write")
    p.add_argument("--force", action="store_true", help="replace QMODEL_DIR if it exists")
    return p


def run(args):
    from qsim.importers.cnet import import_c
    from qsim.quantize import describe

    from ._common import check_output, output_dir, show_warnings

    check_output(args.output, args.force, folder=True,
                 inputs=(*args.headers, args.spec) + ((args.data,) if args.data else ()))
    with show_warnings("import-c"):
        g = import_c(args.headers, args.spec, path=args.path, release=args.release)
    findings = []
    if args.data is not None:
        from qsim.lint import lint, load_lint_data
        with show_warnings("import-c"):
            findings = lint(g, load_lint_data(args.data, g))
    with output_dir(args.output, args.force) as tmp:
        g.save(tmp)
    print(describe(g))
    from qsim.intnet import float_scale_known
    if not float_scale_known(g):
        print("integer-only model: no input frac_bits / weight_frac in the spec, so the float "
              "scale is unknown (simulate, parity, codegen and diverge work on the integers)")
    for f in findings:
        print(f"qsim import-c: warning: {f}")
    print(f"wrote {args.output}")
    return 0
