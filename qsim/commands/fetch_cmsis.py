"""`qsim fetch-cmsis`: download a pinned CMSIS_5 release and unpack what qsim needs into a cache.

Only CMSIS/NN, CMSIS/DSP/Include and CMSIS/Core/Include are kept, in ~/.cache/qsim/cmsis-src/<tag>/
unless --dest is given; the command ends by printing the CMSIS_PATH to use. The files are checked
against a content hash pinned in cmsis_nn/fetch.py (computed from git objects, not from a GitHub
download: see cmsis_nn/README.md), or against the archive hash you give with --sha256.
"""


from qsim.releases import DEFAULT_RELEASE, VERSIONS


def register(subparsers):
    p = subparsers.add_parser(
        "fetch-cmsis", help="download CMSIS_5 5.9.0 or 5.7.0 from GitHub into a cache (needs internet)",
        description=__doc__.splitlines()[0])
    p.add_argument("--version", dest="cmsis_version", choices=VERSIONS, default=DEFAULT_RELEASE,
                   help="CMSIS_5 release tag (default 5.9.0)")
    p.add_argument("--dest", metavar="DIR", default=None,
                   help="folder to create (default ~/.cache/qsim/cmsis-src/<tag>)")
    p.add_argument("--force", action="store_true",
                   help="replace DIR if it exists (only if it holds nothing but a CMSIS checkout)")
    p.add_argument("--archive", metavar="FILE", default=None,
                   help="use this already downloaded tag tarball instead of downloading")
    p.add_argument("--sha256", metavar="HEX", default=None,
                   help="SHA-256 of the archive that you verified; replaces the pinned content check")
    return p


def run(args):
    from cmsis_nn.fetch import fetch_cmsis

    checkout, fetched = fetch_cmsis(args.cmsis_version, dest=args.dest, force=args.force,
                                    archive=args.archive, sha256=args.sha256, verbose=True)
    state = "unpacked into" if fetched else "already present in"
    print(f"CMSIS {checkout.version} {state} {checkout.root}")
    print(f"export CMSIS_PATH={checkout.root}")
    return 0
