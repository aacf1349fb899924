"""`qsim diverge QMODEL --input X --dump DEVICE_DUMP`: which layer differs on the board, and why.

DEVICE_DUMP holds every layer's output captured on the device for the input X, in the order the
generated code's taps write them: build the generated C with -DQSIM_TAP_DUMP and save what it
prints (text, one `{...}` per layer), or the layers' raw bytes back to back (binary). The report
gives the first layer and element that differ, the simulator's and the device's values, and which
hypotheses (other release or path, ARM_NN_TRUNCATE, a shift off by one, weights in another layout
or interleaving) reproduce the device's values when that layer is re-run (qsim.diverge).
Exit status 0 when every layer agrees, 1 when one differs.
"""


def register(subparsers):
    p = subparsers.add_parser("diverge", help="find the first layer where a device dump differs",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", metavar="QMODEL", help="the quantized model the device runs")
    p.add_argument("--input", required=True, metavar="X.npy",
                   help="the one input the device ran: shape of the model input, or (1,) + it "
                        "(floats are quantized with the input format, integers taken as they are)")
    p.add_argument("--dump", required=True, metavar="DEVICE_DUMP", help="per-layer outputs")
    p.add_argument("--format", choices=("auto", "text", "binary"), default="auto",
                   help="dump format (default: text if it holds '{', else binary)")
    p.add_argument("--item", type=int, default=0, metavar="I",
                   help="which item of a batched X.npy the device ran (default 0)")
    return p


def run(args):
    from qsim.diverge import diverge, read_dump
    from qsim.errors import ShapeError

    from ._common import _read_npy, load_quantized, show_warnings

    g = load_quantized(args.model)
    x = _read_npy(args.input, "--input")
    shape = g.tensors[g.inputs[0]].shape
    if x.shape == shape:
        x = x[None]
    if x.shape[1:] != shape:
        raise ShapeError(f"--input {args.input} has shape {x.shape}; the model input needs {shape} "
                         "or (N,) + that (HWC)")
    if not 0 <= args.item < len(x):
        raise ShapeError(f"--item {args.item}: {args.input} holds {len(x)} items")
    records = read_dump(args.dump, g, args.format)
    with show_warnings("diverge"):
        d = diverge(g, x[args.item], records)
    for line in d.lines():
        print(line)
    if len(records) < len(g.nodes) and d.layer is None:
        print(f"note: the dump holds {len(records)} of {len(g.nodes)} layers")
    return 0 if d.layer is None else 1
