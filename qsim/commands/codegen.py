"""`qsim codegen MODEL -o DIR`: C sources for a quantized graph (one CMSIS-NN call per layer).

Writes <name>.h, <name>.c, <name>_weights.h and Makefile / CMake snippets into DIR (atomically;
an existing DIR needs --force) and prints the RAM / flash report.
"""
from pathlib import Path


def register(subparsers):
    p = subparsers.add_parser("codegen", help="generate C for a quantized model (CMSIS-NN calls)",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", metavar="MODEL", help="saved quantized graph (folder or .json from Graph.save)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--name", default=None, metavar="N",
                   help="C prefix of files and symbols (default: the graph's name)")
    p.add_argument("--weights-style", choices=("c", "mlkws"), default="c",
                   help="mlkws: also write the weights as ML-KWS-style #define arrays and shift "
                        "macros plus the `qsim import-c` spec that reads them back")
    return p


def run(args):
    from cmsis_nn.standin import include_dirs
    from codegen.generate import render, write_network
    from codegen.memory_report import measure_generated, memory_report
    from qsim.commands._common import check_output, load_quantized

    check_output(args.out, args.force, folder=True, inputs=(args.model,))
    graph = load_quantized(args.model, "MODEL")
    out = Path(args.out)
    source = Path(args.model).name
    # compile (code size) before writing: a compile failure is an error and leaves nothing behind
    code = measure_generated(render(graph, name=args.name, source=source,
                                    weights_style=args.weights_style), include_dirs())
    gen = write_network(graph, out, name=args.name, force=args.force, source=source,
                        weights_style=args.weights_style)
    for fname in gen.files:
        print(f"wrote {out / fname}")
    for line in memory_report(gen.plan, gen.weight_bytes, code).lines():
        print(line)
    return 0
