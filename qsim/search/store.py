"""DIR/candidates.jsonl: one JSON line per evaluated candidate, written as results arrive.

The first line is a header {"qsim_search": 1, "fingerprint": ..., "settings": {...}}: the hash of
everything a record depends on (float model, calibration, data, labels, target, release,
strategy, seed, QAT data). A second run with the same fingerprint resumes: records already in
the file are read back and their candidates are not evaluated again (budgets, --workers and
--budget-candidates may change between runs; they change which candidates are tried, never a
record). Another fingerprint is refused (start a new DIR, or --force).

Interrupt safety: the header is written with the file (temporary file + rename); each record
is one os.write of one complete line on an O_APPEND descriptor, then fsync. A run killed during
a write can leave at most a last line without its newline; reading drops it (and any line that
is not a complete record), and the file is rewritten without it before anything is appended.
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import ArgumentError
from ..fileio import atomic_write

FILE = "candidates.jsonl"
VERSION = 1


def fingerprint(ctx) -> str:
    """sha256 of everything an evaluation record depends on."""
    h = hashlib.sha256()

    def add(tag, data):
        h.update(tag.encode() + b"\0" + (data if isinstance(data, bytes) else str(data).encode())
                 + b"\0")

    doc = ctx.graph.to_dict()
    add("graph", json.dumps(doc, sort_keys=True, default=str))
    for n in ctx.graph.nodes:
        for k in sorted(n.params):
            a = np.ascontiguousarray(n.params[k])
            add(f"{n.name}.{k}", str(a.dtype) + str(a.shape))
            add(f"{n.name}.{k}.data", a.tobytes())
    add("calibration", json.dumps(ctx.calibration.to_dict(), sort_keys=True, default=str))
    for name in ("x", "y", "x_train", "y_train"):
        a = getattr(ctx, name)
        add(name, b"none" if a is None else str(a.dtype).encode() + str(a.shape).encode()
            + np.ascontiguousarray(a).tobytes())
    for name in ("target", "release", "path", "strategy", "percentile", "seed", "measure_code"):
        add(name, getattr(ctx, name))
    return h.hexdigest()


class Store:
    """Append-only record file in `folder`."""

    def __init__(self, folder, fp, settings):
        self.path = Path(folder) / FILE
        self.fp, self.settings = fp, settings
        self.records = {}
        self.dropped = 0

    def open(self):
        """Read what is there (resume) or create the file with its header; returns self."""
        if self.path.exists():
            header, records, dropped, clean = read(self.path)
            if header is None:
                raise ArgumentError(f"{self.path} is not a qsim search record file (no header "
                                    "line). help: choose another -o, or --force to start over")
            if header.get("fingerprint") != self.fp:
                raise ArgumentError(
                    f"{self.path} holds a search of another model, data or settings "
                    f"({_differences(header.get('settings', {}), self.settings)}). help: "
                    "choose another -o, or pass --force to start over")
            self.records = records
            self.dropped = dropped
            if not clean:      # drop a torn last line before appending after it
                atomic_write(self.path, b"".join(
                    (json.dumps(r, sort_keys=True) + "\n").encode()
                    for r in [header, *records.values()]))
        else:
            head = {"qsim_search": VERSION, "fingerprint": self.fp, "settings": self.settings}
            atomic_write(self.path, (json.dumps(head, sort_keys=True) + "\n").encode())
        return self

    def append(self, record):
        line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            written = os.write(fd, line)
            while written < len(line):            # pragma: no cover - a short write
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records[record["key"]] = record


def read(path):
    """(header, {key: record}, lines dropped, clean) of a record file; a torn or foreign line is
    dropped (counted), clean is False when the file must be rewritten without it."""
    raw = Path(path).read_bytes()
    lines = raw.split(b"\n")
    clean = raw.endswith(b"\n") or not raw
    if lines and lines[-1] == b"":
        lines.pop()
    header, records, dropped = None, {}, 0
    for i, line in enumerate(lines):
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            doc = None
        if i == 0:
            if isinstance(doc, dict) and doc.get("qsim_search") == VERSION:
                header = doc
                continue
            return None, {}, 0, clean
        if isinstance(doc, dict) and isinstance(doc.get("key"), str) and "ok" in doc \
                and isinstance(doc.get("candidate"), dict):
            records[doc["key"]] = doc
        else:
            dropped += 1
            clean = False
    return header, records, dropped, clean


def _differences(old, new):
    diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "differs in " + ", ".join(diff) if diff else "the model, calibration or data differ"
