"""Atomic file writes: a reader never sees a half-written model, report or plot."""
import os
import tempfile


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# What open() / mkdir() would give a new file / folder (mkstemp and mkdtemp alone give 0600/0700).
FILE_MODE, DIR_MODE = 0o666 & ~_umask(), 0o777 & ~_umask()


def atomic_write(path, data: bytes):
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                               prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
