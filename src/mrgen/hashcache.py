"""Hash a file once: its sha256 is kept with its size, mtime, ctime and inode, and not computed again while
all four are unchanged (any write or rename-over changes ctime or the inode). A stage no longer re-reads
gigabytes of prepared data it hashed on its previous run; `mrgen audit` and `mrgen status` stay fast.

The cache is one SQLite file per checkout, work/.hashes.sqlite (git-ignored), shared by concurrent stages.
It is only an optimisation: if it cannot be opened or written (read-only checkout, a file system without
locks), files are hashed as before. MRGEN_HASH_CACHE=off turns it off.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from mrgen.paths import ROOT

DB = "work/.hashes.sqlite"
_conn: sqlite3.Connection | None = None
_broken = False


def _digest(path: Path, algo: str, chunk: int = 1 << 20) -> str:
    h = hashlib.new(algo, usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _db() -> sqlite3.Connection | None:
    global _conn, _broken
    if _conn is not None or _broken or os.environ.get("MRGEN_HASH_CACHE") == "off":
        return _conn
    try:
        (ROOT / DB).parent.mkdir(parents=True, exist_ok=True)
        _conn = sqlite3.connect(ROOT / DB, timeout=30, isolation_level=None)
        _conn.execute("CREATE TABLE IF NOT EXISTS h (path TEXT, algo TEXT, size INT, mtime INT, ctime INT, "
                      "inode INT, digest TEXT, PRIMARY KEY (path, algo))")
    except (OSError, sqlite3.Error):
        _conn, _broken = None, True
    return _conn


def cached_digest(path: str | Path, algo: str = "sha256") -> str:
    """A file's sha256 (or md5: DVC's hash, for `mrgen audit`), from the cache when its size, mtime, ctime
    and inode match."""
    global _broken
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), algo)
    meta = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    db = _db()
    if db is not None:
        try:
            row = db.execute("SELECT size, mtime, ctime, inode, digest FROM h WHERE path = ? AND algo = ?",
                             key).fetchone()
            if row is not None and tuple(row[:4]) == meta:
                return row[4]
        except sqlite3.Error:
            _broken = True
    digest = _digest(path, algo)
    if db is not None and not _broken:
        try:
            db.execute("INSERT OR REPLACE INTO h VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, *meta, digest))
        except sqlite3.Error:
            _broken = True
    return digest
