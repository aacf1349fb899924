"""Bring a hand-written CMSIS-NN deployment into qsim: export a qsim-trained DS-CNN the ML-KWS-for-MCU
way (C arrays + shift #defines), import it back with `qsim import-c`, check it, find a broken layer.

    python examples/import_c.py [--epochs 3] [--out build/import_c]
    CMSIS_PATH=~/cmsis-5.9.0 python examples/import_c.py     # parity with the real library

1. train DS_CNN_SPEC on the digits (numpy), quantize it for Cortex-M4 (path dsp, CMSIS 5.9.0);
2. `qsim codegen --weights-style mlkws`: ds_cnn_mlkws_weights.h (CONV1_WT, CONV1_BIAS,
   CONV1_BIAS_LSHIFT, CONV1_OUT_RSHIFT, ...) and ds_cnn_mlkws_spec.json (layer order, kernels,
   geometry): what a legacy deployment keeps, plus the small spec `qsim import-c` needs;
3. `qsim import-c` reads them back (no C is compiled or run): every layer's integers are identical,
   and so is the test accuracy; host parity of the imported model (stand-in, or the real library);
4. `qsim import-c --release 5.7.0 --data X` lints the network for a board with CMSIS 5.7.0;
5. a "device" whose build has one out_shift off by one: `qsim diverge` names the layer and the cause.
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import qsim  # noqa: E402
from cmsis_nn.locate import find_cmsis  # noqa: E402
from examples._flow import parse_args  # noqa: E402
from harness.parity import run_network_parity  # noqa: E402
from qsim.cli import main as qsim_main  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.diverge import diverge, format_text_dump, read_dump, simulated_records  # noqa: E402
from qsim.importers.spec import DS_CNN_SPEC  # noqa: E402
from qsim.train import train  # noqa: E402


def run(cmd):
    print("$ qsim " + " ".join(cmd))
    rc = qsim_main(cmd)
    if rc not in (0, 1):
        raise SystemExit(f"qsim {cmd[0]} failed ({rc})")
    return rc


def main(argv=None):
    args = parse_args(__doc__, epochs=3, out="build/import_c", argv=argv)
    warnings.simplefilter("ignore")
    out = args.out
    d = load_digits(channels=1)
    net = qsim.Sequential.from_dict(DS_CNN_SPEC).build(seed=0)
    net, _ = train(net, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.epochs, batch_size=32,
                   lr=2e-3, seed=0)
    cmsis = find_cmsis() if os.environ.get("CMSIS_PATH") else None
    release = cmsis.version if cmsis else "5.9.0"
    q = qsim.quantize(net, qsim.calibrate(net, d.x_train), scheme="q7", path="dsp", version=release)
    q.save(os.path.join(out, "q7_dsp"))
    run(["codegen", os.path.join(out, "q7_dsp"), "-o", os.path.join(out, "c"), "--force",
         "--weights-style", "mlkws"])
    header = os.path.join(out, "c", "ds_cnn_mlkws_weights.h")
    spec = os.path.join(out, "c", "ds_cnn_mlkws_spec.json")
    run(["import-c", header, "--spec", spec, "-o", os.path.join(out, "imported"), "--force"])
    imp = qsim.Graph.load(os.path.join(out, "imported"))
    ta, tb = qsim.simulate(q, d.x_test, trace=True), qsim.simulate(imp, d.x_test, trace=True)
    same = all(np.array_equal(ta[a.output], tb[b.output]) for a, b in zip(q.nodes, imp.nodes))
    acc = lambda g: 100 * float(np.mean(qsim.predict(g, d.x_test) == d.y_test))   # noqa: E731
    print(f"layer by layer identical: {same}; test accuracy quantized {acc(q):.2f}%, "
          f"imported {acc(imp):.2f}%")
    if cmsis is not None:
        report = run_network_parity(imp, d.x_test[:50], cmsis=cmsis)
        print(f"parity dsp ({report.library}): {report.summary()}")
    else:
        ref = imp.copy()
        ref.quant.path = "ref"
        report = run_network_parity(ref, d.x_test[:50], cmsis=None)
        print(f"parity ref ({report.library}): {report.summary()}")
    np.save(os.path.join(out, "x_test.npy"), d.x_test)
    run(["import-c", header, "--spec", spec, "--release", "5.7.0", "--data",
         os.path.join(out, "x_test.npy"), "-o", os.path.join(out, "imported_570"), "--force"])
    # a "device" built from the same header with one #define edited (second conv's out_shift + 1),
    # imported as the board runs it (import-c derives the formats from the shifts)
    node = next(n for n in imp.nodes if n.op == "conv" and n is not imp.nodes[0])
    define = f"#define {node.name.upper()}_OUT_RSHIFT {node.out_shift}\n"
    text = open(header).read()
    if define not in text:
        raise SystemExit(f"{header}: no line {define.strip()!r} to edit")
    dev_header = os.path.join(out, "device_weights.h")
    with open(dev_header, "w") as f:
        f.write(text.replace(define, f"#define {node.name.upper()}_OUT_RSHIFT {node.out_shift + 1}\n"))
    run(["import-c", dev_header, "--spec", spec, "-o", os.path.join(out, "device"), "--force"])
    dev = qsim.Graph.load(os.path.join(out, "device"))
    dump = os.path.join(out, "device_dump.txt")
    with open(dump, "w") as f:
        f.write(format_text_dump(simulated_records(dev, d.x_test[0])))
    np.save(os.path.join(out, "x0.npy"), d.x_test[:1])
    run(["diverge", os.path.join(out, "imported"), "--input", os.path.join(out, "x0.npy"),
         "--dump", dump])
    return same, diverge(imp, d.x_test[0], read_dump(dump, imp))


if __name__ == "__main__":
    main()
