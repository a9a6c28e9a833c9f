"""Duplicate ``eventId``s across a whole window, in bounded memory: the first record of an id wins.

The window's kept ids are not held as text (~50 bytes each; 10 M records would take half a GiB),
nor as 64-bit hashes (8 bytes each: 80 MiB on a 10 M-record day, the largest thing the merge held).
Memory holds the top 32 bits of each kept id's hash (4 bytes, in a few sorted arrays: :class:`Level`);
the full 64-bit hashes wait on local temporary disk beside them, in the same order, and the ids
themselves, one file per chunk sorted by hash.

A chunk's id whose top 32 bits are among the kept ones is looked up in its level's file of full
hashes (only at the positions the search found: a few hundred reads of 8 bytes a chunk, at most).
An id whose full hash is kept is only a *candidate*: it is a duplicate when an earlier kept id with
that hash is the same text, which is read back from disk (only the row groups whose hash range
holds a candidate). So the verdict is exact, as comparing the texts in memory was; hashes only
decide what to read back, and a window without duplicates reads no id back.
"""

from __future__ import annotations

import os

import numpy as np
import polars as pl

_SEED = 0x6D6D6F6F  # any fixed seed: hashes are compared within one run only
_ROW_GROUP = 4096  # rows per row group of an id file: a candidate reads back one small group
_TOP = np.uint64(32)
_HIGH = 1 if np.little_endian else 0  # which uint32 of a uint64 holds its top bits
# Hashes per level at most: levels merge up to this size, then stay as they are. Why: a merge holds
# both levels' full hashes and their union at once (the 10 M-record day's last merge, unbounded,
# held 160 MiB). A search costs about the same over several levels as over their union (cache
# misses follow the total size).
MAX_LEVEL = 2**21


class Level:
    """Sorted 64-bit hashes: their top 32 bits in memory, all 64 in a file of local disk."""

    def __init__(self, hashes: np.ndarray, path: str) -> None:
        """``hashes``: sorted uint64, written to ``path`` (an ``.npy`` file)."""
        np.save(path, hashes, allow_pickle=False)
        self.path = path
        # The high word of each hash, copied out of a view: no 8-byte temporary of the whole level.
        self.top = hashes.view(np.uint32)[_HIGH::2].copy()

    def __len__(self) -> int:
        return len(self.top)

    def hashes(self) -> np.ndarray:
        """The level's full hashes, read back (8 bytes each while they last)."""
        return np.load(self.path, allow_pickle=False)

    def read_into(self, out: np.ndarray) -> None:
        """The level's full hashes read straight into ``out`` (a merge's union: no copy between)."""
        with open(self.path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(f)
            if f.readinto(out.data.cast("B")) != out.nbytes:
                raise OSError(f"{self.path}: shorter than its {len(out)} hashes")

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Whether each hash of ``h`` (sorted: the search then reads the level front to back) is in
        the level. The top 32 bits are searched in memory; where they match (a kept id's own hash,
        or by chance, about once per 430 lookups against 10 M kept ids) the full hashes are read at
        those positions (memory-mapped, and unmapped at once: no page of the file stays resident)."""
        q = (h >> _TOP).astype(np.uint32)
        n = len(self.top)
        found = np.zeros(len(h), dtype=bool)
        if not n:
            return found
        pos = np.searchsorted(self.top, q)
        idx = np.flatnonzero(self.top[np.minimum(pos, n - 1)] == q)
        if not len(idx):
            return found
        full = np.load(self.path, mmap_mode="r", allow_pickle=False)
        try:
            pos, want, top = pos[idx], h[idx], q[idx]
            ok = np.zeros(len(idx), dtype=bool)
            live = np.ones(len(idx), dtype=bool)
            while live.any():  # along each run of equal top bits (one hash long, almost always)
                at = np.flatnonzero(live)
                ok[at] = np.asarray(full[pos[at]]) == want[at]
                pos[at] += 1
                live[at] = ~ok[at] & (pos[at] < n)
                at = np.flatnonzero(live)
                live[at] = self.top[pos[at]] == top[at]
            found[idx] = ok
        finally:
            del full
        return found


class SeenIds:
    """The kept event ids of the chunks so far; :meth:`first` judges the next chunk."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.levels: list[Level] = []  # sizes decreasing (merged as they grow)
        self.paths: list[str] = []
        self._made = 0  # levels made so far: each its own file name

    def _hash(self, ids: pl.Series) -> np.ndarray:
        return ids.hash(seed=_SEED).to_numpy()

    def _candidates(self, h: np.ndarray) -> np.ndarray:
        # Looked up in hash order: each search starts near the last one in the level (cache-warm),
        # two to four times faster than in record order for a 100 k chunk against 1 M kept hashes.
        order = np.argsort(h)
        hs = h[order]
        found = np.zeros(len(h), dtype=bool)
        for level in self.levels:
            found |= level.contains(hs)
        hit = np.empty(len(h), dtype=bool)
        hit[order] = found
        return hit

    def first(self, ids: pl.Series) -> pl.Series:
        """For each id of a chunk (in record order): whether it is the first of its text in the window
        so far -- not an earlier id of this chunk, nor a kept id of an earlier chunk. Remembers the
        chunk's first ids as kept."""
        first = ids.is_first_distinct()
        h = self._hash(ids)
        if self.levels and len(h):
            cand = self._candidates(h) & first.to_numpy()
            if cand.any():
                hashes = pl.Series("h", np.unique(h[cand]), dtype=pl.UInt64)
                earlier = (
                    pl.scan_parquet(self.paths, glob=False).filter(pl.col("h").is_in(hashes.implode())).select("id").collect()["id"]
                )
                first = first & ~ids.is_in(earlier.implode())
        self._remember(ids.filter(first), h[first.to_numpy()])
        return first

    def forget(self) -> None:
        """Free the hashes once the window is read (the label join and the parts come after it)."""
        for level in self.levels:
            os.unlink(level.path)
        self.levels = []

    def _remember(self, ids: pl.Series, h: np.ndarray) -> None:
        if not len(h):
            return
        path = os.path.join(self.folder, f"ids-{len(self.paths):06d}.parquet")
        pl.DataFrame({"h": pl.Series(h, dtype=pl.UInt64), "id": ids}).sort("h").write_parquet(
            path, compression="lz4", statistics=True, row_group_size=_ROW_GROUP
        )
        self.paths.append(path)
        # Levels like a log-structured merge: a new sorted array is merged into the last while that
        # one is no larger, so each hash is merged O(log n) times; never past MAX_LEVEL.
        hashes = np.sort(h)
        while self.levels and len(self.levels[-1]) <= 2 * len(hashes) and len(self.levels[-1]) + len(hashes) <= MAX_LEVEL:
            last = self.levels.pop()
            # The union is made in place: the old level read into its front, the new hashes copied
            # behind, sorted in place (two sorted runs: timsort merges them). No third copy.
            union = np.empty(len(last) + len(hashes), dtype=np.uint64)
            last.read_into(union[: len(last)])
            union[len(last) :] = hashes
            del hashes
            union.sort(kind="stable")
            hashes = union
            os.unlink(last.path)
        self.levels.append(Level(hashes, os.path.join(self.folder, f"level-{self._made:06d}.npy")))
        self._made += 1
