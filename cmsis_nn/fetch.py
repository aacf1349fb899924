"""Download a pinned CMSIS_5 release from GitHub and unpack the three folders qsim needs.

`fetch_cmsis()` streams GitHub's tag tarball (or reads one the user already has), unpacks only
PARTS into a temporary folder beside the destination, checks it, then renames it into place
(~/.cache/qsim/cmsis-src/<tag>/ by default): a failure never leaves a partial checkout.

PINNED is a hash of the unpacked files (content_digest), not of the .tar.gz: the CMSIS_5 mirror
used to pin lacked one large blob per tag (CMSIS/DSP/Source/CommonTables/arm_common_tables.c), so
GitHub's tarball could not be rebuilt; its gzip layer is a guess anyway (GitHub rolled back its
2023 switch to git's internal gzip: the hash changed, the files did not). The pins were computed
from `git archive <tag> CMSIS/NN CMSIS/DSP/Include CMSIS/Core/Include` of that mirror and were NOT
checked against a GitHub download (no internet there). `sha256=` (--sha256) replaces that check by
the archive's own SHA-256, verified by the user.
"""
import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from qsim.errors import CmsisFetchError, CmsisNotFound

from .build import cache_root
from .locate import CmsisCheckout, find_cmsis

log = logging.getLogger(__name__)

URL = "https://github.com/ARM-software/CMSIS_5/archive/refs/tags/{tag}.tar.gz"
PARTS = ("CMSIS/NN", "CMSIS/DSP/Include", "CMSIS/Core/Include")
STAMP = "qsim-fetch.json"

# tag -> (commit the tag points to, SHA-256 of content_digest() over PARTS). Computed from git
# objects with `git archive`, never compared with a GitHub download: see the module docstring.
PINNED = {
    "5.7.0": ("a65b7c9a3e6502127fdb80eb288d8cbdf251a6f4",
              "232d1bf3677635c51c9865bef54b95bb403b72d11b7622810169770dace32053"),
    "5.9.0": ("2b7495b8535bdcb306dac29b9ded4cfb679d7e5c",
              "2f75197cb3e344c360120eb12bd132b9f982085e096d2306be9634dd94830edf"),
}

MANUAL = ("help: download the archive by other means and pass --archive FILE (with --sha256 HEX once "
          "you have checked its hash), or clone and extract by hand: `mkdir -p ~/cmsis-{tag} && git clone "
          "https://github.com/ARM-software/CMSIS_5 && git -C CMSIS_5 archive {tag} CMSIS/NN "
          "CMSIS/DSP/Include CMSIS/Core/Include | tar -x -C ~/cmsis-{tag}` (cmsis_nn/README.md)")


def default_dest(version) -> Path:
    return cache_root().parent / "cmsis-src" / version


def content_digest(root) -> str:
    """SHA-256 over the sorted lines `<sha256 of file> <644|755> <path>` of every file under PARTS."""
    root = Path(root)
    files = sorted((f.relative_to(root).as_posix(), f) for part in PARTS for f in (root / part).rglob("*")
                   if f.is_file() and not f.is_symlink())
    lines = (f"{hashlib.sha256(f.read_bytes()).hexdigest()} {'755' if f.stat().st_mode & 0o100 else '644'} "
             f"{rel}\n" for rel, f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(version, to, verbose=True, timeout=60) -> str:
    """Stream the GitHub tag tarball of `version` into file `to`; return its SHA-256."""
    url, h = URL.format(tag=version), hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "qsim-fetch-cmsis"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r, open(to, "wb") as out, \
                tqdm(total=int(r.headers.get("Content-Length") or 0) or None, unit="B", unit_scale=True,
                     desc=f"CMSIS_5-{version}.tar.gz", disable=not verbose) as bar:
            while chunk := r.read(1 << 16):
                out.write(chunk)
                h.update(chunk)
                bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as e:   # URLError, HTTPError, timeouts are OSErrors
        raise CmsisFetchError(f"could not download {url}: {e}. {MANUAL.format(tag=version)}") from e
    return h.hexdigest()


def _wanted(name):
    """The path below the archive's top folder if it lies in PARTS, else None."""
    parts = PurePosixPath(name).parts
    if not parts or parts[0] == "/" or ".." in parts:
        return None
    for skip in (0, 1):        # `git archive` without --prefix, or GitHub's CMSIS_5-<tag>/ folder
        rel = "/".join(parts[skip:])
        if any(rel == p or rel.startswith(p + "/") for p in PARTS):
            return rel
    return None


def _extract(archive, into):
    """Unpack the regular files and folders of PARTS; return the number of files."""
    kw, n = ({"filter": "data"} if hasattr(tarfile, "data_filter") else {}), 0
    try:
        with tarfile.open(archive, "r:*") as tf:
            for m in tf:
                rel = _wanted(m.name)
                if rel is not None and (m.isfile() or m.isdir()):
                    m.name = rel
                    tf.extract(m, into, **kw)
                    n += m.isfile()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise CmsisFetchError(f"{archive} is not a readable .tar.gz archive ({e}); the download may be "
                              f"truncated: delete it and fetch again") from e
    return n


def _check_replaceable(dest):
    """--force deletes only a folder that holds nothing but a checkout (CMSIS/ and our stamp)."""
    if dest.is_symlink() or not dest.is_dir():
        raise CmsisFetchError(f"{dest} exists and is not a folder; remove it or choose another --dest")
    extra = sorted(p.name for p in dest.iterdir() if p.name not in ("CMSIS", STAMP))
    if extra:
        raise CmsisFetchError(f"refusing to replace {dest}: besides CMSIS/ it holds {', '.join(extra[:5])}"
                              f". help: choose another --dest or empty the folder yourself")


def fetch_cmsis(version="5.9.0", dest=None, force=False, archive=None, sha256=None,
                verbose=True) -> tuple[CmsisCheckout, bool]:
    """Download (or take `archive`), verify and unpack CMSIS_5 `version` ("5.7.0"/"5.9.0") into `dest`.

    `dest` defaults to ~/.cache/qsim/cmsis-src/<version> ($QSIM_CACHE_DIR honoured); `force` replaces
    it if it holds nothing but a checkout; `sha256` (the archive's, verified by the user) replaces
    the pinned content check. Returns (checkout, fetched); fetched is False when `dest` already held
    a good checkout of `version`. Raises CmsisFetchError (network, bad archive, hash, dest in the way).
    """
    if version not in PINNED:
        raise CmsisFetchError(f"unknown CMSIS_5 release {version!r}: choose one of {', '.join(PINNED)}")
    if sha256 is not None and (len(sha256) != 64 or set(sha256.lower()) - set("0123456789abcdef")):
        raise CmsisFetchError(f"--sha256 needs 64 hex digits, got {sha256!r}")
    dest = Path(dest).expanduser() if dest else default_dest(version)
    if dest.exists() or dest.is_symlink():
        if not force:
            try:
                checkout = find_cmsis(dest)
            except CmsisNotFound as e:
                raise CmsisFetchError(f"{dest} already exists and is not a usable checkout ({e}). "
                                      f"help: pass --force to replace it, or choose another --dest") from e
            if checkout.version == version:
                log.info("%s already holds CMSIS %s; nothing to do", dest, version)
                return checkout, False
            raise CmsisFetchError(f"{dest} holds CMSIS {checkout.version}, not {version}. help: pass "
                                  f"--force to replace it, or choose another --dest")
        _check_replaceable(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.part-", dir=dest.parent))
    try:
        if archive is None:
            archive, source = tmp / "download.tar.gz", URL.format(tag=version)
            got = download(version, archive, verbose)
        else:
            archive = source = Path(archive).expanduser()
            if not archive.is_file():
                raise CmsisFetchError(f"--archive {archive} does not exist or is not a file")
            got = file_sha256(archive)
        if sha256 is not None and got != sha256.lower():
            raise CmsisFetchError(f"SHA-256 of {source} is {got}, not the {sha256.lower()} you gave. "
                                  f"help: check the hash again against the file you trust")
        if _extract(archive, tmp) == 0:
            raise CmsisFetchError(f"{source} holds no files under {', '.join(PARTS)}: not a CMSIS_5 archive")
        if archive.parent == tmp:
            archive.unlink()
        content = content_digest(tmp)
        if sha256 is None and content != PINNED[version][1]:
            raise CmsisFetchError(
                f"the CMSIS/NN, CMSIS/DSP/Include and CMSIS/Core/Include files of {source} do not match "
                f"the content hash qsim pins for {version} (computed from git objects of tag {version} = "
                f"commit {PINNED[version][0][:12]} with `git archive`, never checked against a GitHub "
                f"download, so the pin itself may be wrong). The archive's SHA-256 is {got}. help: if you "
                f"trust this archive (e.g. its files equal `git -C CMSIS_5 archive {version}` of your own "
                f"clone), rerun with --sha256 {got}; to use a tarball you fetched and checked yourself, pass "
                f"--archive FILE --sha256 HEX; or extract a git clone by hand (cmsis_nn/README.md)")
        try:
            checkout = find_cmsis(tmp)
        except CmsisNotFound as e:
            raise CmsisFetchError(f"{source} does not hold a usable CMSIS {version}: {e}") from e
        if checkout.version != version:
            raise CmsisFetchError(f"{source} holds CMSIS {checkout.version}, not {version}")
        stamp = {"version": version, "source": str(source), "archive_sha256": got,
                 "content_sha256": content, "checked_by": "--sha256" if sha256 else "pinned content hash"}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        tmp.chmod(0o755)                                  # mkdtemp made it 0700
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            shutil.rmtree(old)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("unpacked CMSIS %s into %s", version, dest)
    return find_cmsis(dest), True
