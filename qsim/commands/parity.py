"""`qsim parity MODEL --target host|cortex-m4|cortex-m3`: the generated C against the simulator, layer
by layer.

Generates the C for MODEL, builds it with CMSIS-NN (a real CMSIS_5 checkout from --cmsis or
$CMSIS_PATH, or with --standin qsim's portable stand-in, which is NOT CMSIS), runs a batch and
compares every layer's output with `simulate(trace=True)`. cortex-m4 (mps2-an386, CMSIS-NN's DSP
path) and cortex-m3 (mps2-an385, REF path) build with arm-none-eabi-gcc and run under QEMU
(harness/cortex_m.py), adding per-layer instruction counts and the footprint to the report.
Prints one row per layer and ends with
`LAYERS layers, INPUTS inputs, MISMATCHES mismatches`. Exit status 1 on any mismatch, 2 on errors
(no model, CMSIS missing or of an unknown release, no compiler).
"""


def register(subparsers):
    p = subparsers.add_parser("parity", help="check generated C against the simulator, per layer",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", metavar="MODEL", help="saved quantized graph (folder or .json)")
    p.add_argument("--target", default="host", metavar="T",
                   help="where the C runs: host (default), cortex-m4 or cortex-m3 (QEMU)")
    p.add_argument("--cmsis", metavar="PATH", default=None,
                   help="CMSIS_5 checkout at tag 5.7.0 or 5.9.0 (default: $CMSIS_PATH)")
    p.add_argument("--standin", action="store_true",
                   help="use qsim's stand-in C library instead of CMSIS (checks plumbing, not parity)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", type=int, default=100, metavar="N",
                     help="random inputs in the input format (default 100)")
    src.add_argument("--data", metavar="F", default=None,
                     help=".npy array (N,)+input shape: floats (quantized) or integers")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--sanitize", action="store_true",
                   help="build with AddressSanitizer + UBSan (needs libasan preloaded, see cmsis_nn/README.md)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="cortex-m targets: seconds of QEMU wall time before giving up (default 600)")
    p.add_argument("--name", default=None, metavar="N", help="C prefix (default: the graph's name)")
    return p


def check_parity_size(graph, n):
    """Refuse (ResourceLimitError, with the figure) before allocating n inputs: the float draw,
    the integer inputs and three traces (simulator, C, comparison) of every tensor."""
    from qsim.validate import check_memory, tensors_bytes
    size = graph.tensors[graph.inputs[0]].size
    check_memory(n * size * 16 + 3 * tensors_bytes(graph, n, trace=True),
                 f"parity on {n} inputs of model '{graph.name}'", "use fewer --inputs")


def _inputs(args, graph):
    import numpy as np

    from harness.parity import random_inputs
    from qsim.commands._common import load_data, npy_header
    from qsim.validate import check_count, check_seed
    if args.data is None:
        check_count("--inputs", args.inputs)
        check_seed("--seed", args.seed)
        check_parity_size(graph, args.inputs)
        return random_inputs(graph, args.inputs, args.seed)
    shape, _ = npy_header(args.data, "--data")
    if shape:
        check_parity_size(graph, shape[0])
    x = load_data(args.data, graph)            # checks shape, emptiness, NaN; gives float32
    raw = np.load(args.data, allow_pickle=False)
    return raw if raw.dtype.kind in "iu" else x   # integers are taken as they are


def run(args):
    from cmsis_nn.locate import find_cmsis
    from harness.parity import run_network_parity
    from qsim.commands._common import load_quantized

    from qsim.validate import check_positive

    check_positive("--timeout", args.timeout)
    graph = load_quantized(args.model, "MODEL")          # validated before any allocation
    checkout = None if args.standin else find_cmsis(args.cmsis)
    report = run_network_parity(graph, _inputs(args, graph), target=args.target, name=args.name,
                                cmsis=checkout, sanitize=args.sanitize, timeout=args.timeout)
    for line in report.lines():
        print(line)
    return 1 if report.mismatches else 0
