"""`qsim fetch-cmsis` offline: fake tag tarballs generated here (no CMSIS content), --archive/--sha256."""
import hashlib
import io
import json
import tarfile
import urllib.error

import pytest

import cmsis_nn.fetch as fetch
from cmsis_nn.fetch import content_digest, fetch_cmsis
from cmsis_nn.locate import HEADERS, SOURCES, find_cmsis
from qsim.cli import main
from qsim.errors import CmsisFetchError

FAKE = b"/* fake placeholder written by qsim's tests, NOT CMSIS */\n"


def fake_files(version="5.9.0"):
    """Every file find_cmsis() checks, with placeholder text, plus some files fetch must skip."""
    files = {h: FAKE for h in HEADERS[version]}
    files.update({f"CMSIS/NN/Source/{s}": FAKE for s in SOURCES})
    files["CMSIS/NN/Include/arm_nnfunctions.h"] = b"/* fake, NOT CMSIS\n * $Revision: V.9.0.0\n */\n"
    files["CMSIS/NN/Scripts/fake.sh"] = b"#!/bin/sh\n"
    files["CMSIS/DSP/Source/fake_table.c"] = FAKE        # outside the three folders: not extracted
    files["README.md"] = FAKE
    return files


def make_archive(path, files, prefix="CMSIS_5-5.9.0/", truncate=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tf.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    path.write_bytes(data[:len(data) // 2] if truncate else data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "CMSIS_5-5.9.0.tar.gz"
    return path, make_archive(path, fake_files())


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_extracts_only_the_three_folders(archive, tmp_path):
    path, sha = archive
    dest = tmp_path / "out" / "5.9.0"
    checkout, fetched = fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha.upper(), verbose=False)
    assert fetched and checkout.version == "5.9.0" and checkout.root == dest.resolve()
    assert sorted(p.name for p in dest.iterdir()) == ["CMSIS", fetch.STAMP]
    assert sorted(p.name for p in (dest / "CMSIS").iterdir()) == ["Core", "DSP", "NN"]
    assert [p.name for p in (dest / "CMSIS/DSP").iterdir()] == ["Include"]
    assert (dest / "CMSIS/NN/Source" / SOURCES[0]).read_bytes() == FAKE
    assert (dest / "CMSIS/NN/Scripts/fake.sh").stat().st_mode & 0o100
    stamp = json.loads((dest / fetch.STAMP).read_text())
    assert stamp["archive_sha256"] == sha and stamp["checked_by"] == "--sha256"
    assert leftovers(dest.parent) == []


def test_pinned_content_hash_is_checked_by_default(archive, tmp_path, monkeypatch):
    path, _ = archive
    with pytest.raises(CmsisFetchError, match="never checked against a GitHub download.*--sha256"):
        fetch_cmsis("5.9.0", dest=tmp_path / "a", archive=path, verbose=False)
    assert not (tmp_path / "a").exists() and leftovers(tmp_path) == []
    reference = tmp_path / "ref"                        # the same files unpacked by hand
    for name, data in fake_files().items():
        (reference / name).parent.mkdir(parents=True, exist_ok=True)
        (reference / name).write_bytes(data)
    (reference / "CMSIS/NN/Scripts/fake.sh").chmod(0o755)
    monkeypatch.setitem(fetch.PINNED, "5.9.0", ("0" * 40, content_digest(reference)))
    checkout, _ = fetch_cmsis("5.9.0", dest=tmp_path / "a", archive=path, verbose=False)
    assert checkout.version == "5.9.0"


def test_archive_hash_mismatch(archive, tmp_path):
    path, sha = archive
    with pytest.raises(CmsisFetchError, match=f"SHA-256 of .* is {sha}, not the {'0' * 64}"):
        fetch_cmsis("5.9.0", dest=tmp_path / "d", archive=path, sha256="0" * 64, verbose=False)
    with pytest.raises(CmsisFetchError, match="64 hex digits"):
        fetch_cmsis("5.9.0", dest=tmp_path / "d", archive=path, sha256="xyz", verbose=False)
    assert not (tmp_path / "d").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("broken", ["truncated", "incomplete", "wrong_version"])
def test_failure_leaves_nothing_behind(broken, tmp_path):
    files = fake_files()
    if broken == "incomplete":
        del files["CMSIS/NN/Source/" + SOURCES[-1]]
    if broken == "wrong_version":
        files = fake_files("5.7.0")
        files["CMSIS/NN/Include/arm_nnfunctions.h"] = b"/* fake\n * $Revision: V.2.0.0\n */\n"
    path = tmp_path / "a.tar.gz"
    sha = make_archive(path, files, truncate=broken == "truncated")
    dest = tmp_path / "out" / "5.9.0"
    with pytest.raises(CmsisFetchError):
        fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha, verbose=False)
    assert not dest.exists() and leftovers(dest.parent) == []


def test_existing_dest(archive, tmp_path):
    path, sha = archive
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(CmsisFetchError, match="already exists.*--force"):
        fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha, verbose=False)
    with pytest.raises(CmsisFetchError, match="refusing to replace.*notes.txt"):
        fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha, force=True, verbose=False)
    assert (dest / "notes.txt").read_text() == "mine"
    (dest / "notes.txt").unlink()
    (dest / "CMSIS").mkdir()                             # an old, broken checkout: --force replaces it
    assert fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha, force=True, verbose=False)[1]
    assert find_cmsis(dest).version == "5.9.0" and leftovers(tmp_path) == []
    checkout, fetched = fetch_cmsis("5.9.0", dest=dest, archive=path, sha256=sha, verbose=False)
    assert not fetched and checkout.root == dest.resolve()   # a good checkout is reused
    with pytest.raises(CmsisFetchError, match="holds CMSIS 5.9.0, not 5.7.0"):
        fetch_cmsis("5.7.0", dest=dest, archive=path, verbose=False)


class FakeResponse(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_is_streamed_and_checked(archive, tmp_path, monkeypatch):
    path, sha = archive
    urls = []
    monkeypatch.setattr(fetch.urllib.request, "urlopen",
                        lambda req, timeout: urls.append(req.full_url) or FakeResponse(path.read_bytes()))
    monkeypatch.setenv("QSIM_CACHE_DIR", str(tmp_path / "cache"))
    checkout, _ = fetch_cmsis("5.9.0", sha256=sha, verbose=False)
    assert urls == ["https://github.com/ARM-software/CMSIS_5/archive/refs/tags/5.9.0.tar.gz"]
    assert checkout.root == (tmp_path / "cache/cmsis-src/5.9.0").resolve()
    assert not (checkout.root / "download.tar.gz").exists()


def test_network_error_suggests_archive_and_clone(tmp_path, monkeypatch):
    def offline(req, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(CmsisFetchError, match="could not download.*--archive FILE.*git clone"):
        fetch_cmsis("5.7.0", dest=tmp_path / "d", verbose=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "d").exists()


def test_cli(archive, tmp_path, capsys):
    path, sha = archive
    dest = tmp_path / "d"
    assert main(["fetch-cmsis", "--archive", str(path), "--sha256", sha, "--dest", str(dest)]) == 0
    assert f"export CMSIS_PATH={dest.resolve()}" in capsys.readouterr().out
    assert main(["fetch-cmsis", "--archive", str(path), "--dest", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim fetch-cmsis: error:") and f"--sha256 {sha}" in err
