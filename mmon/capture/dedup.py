"""Duplicate ``eventId``s across a whole window, in bounded memory: the first record of an id wins.

The window's kept ids are not held as text (~50 bytes each; 10 M records would take half a GiB):
memory holds a 64-bit hash per kept id (8 bytes, in a few sorted arrays), and the ids themselves
wait on local temporary disk, one file per chunk sorted by hash. A chunk's id whose hash is among
the kept hashes is only a *candidate*: it is a duplicate when an earlier kept id with that hash
is the same text, which is read back from disk (only the row groups whose hash range holds a
candidate). So the verdict is exact, as comparing the texts in memory was; hashes only decide
what to read back, and a window without duplicates reads nothing back.
"""

from __future__ import annotations

import os

import numpy as np
import polars as pl

_SEED = 0x6D6D6F6F  # any fixed seed: hashes are compared within one run only
_ROW_GROUP = 4096  # rows per row group of an id file: a candidate reads back one small group
# Hashes per level at most (16 MiB): levels merge up to this size, then stay as they are. Why: the
# merge of two large levels held both and their union at once (the 10 M-record day's last merge:
# 160 MiB for 80 MiB of hashes). A search costs about the same over several levels as over their
# union (cache misses follow the total size: 100 k sorted lookups, 5 levels of 2 M 30 ms, one of 10 M 24 ms).
MAX_LEVEL = 2**21


class SeenIds:
    """The kept event ids of the chunks so far; :meth:`first` judges the next chunk."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.levels: list[np.ndarray] = []  # sorted uint64 arrays, sizes decreasing (merged as they grow)
        self.paths: list[str] = []

    def _hash(self, ids: pl.Series) -> np.ndarray:
        return ids.hash(seed=_SEED).to_numpy()

    def _candidates(self, h: np.ndarray) -> np.ndarray:
        # Looked up in hash order: each search starts near the last one in the level (cache-warm),
        # two to four times faster than in record order for a 100 k chunk against 1 M kept hashes.
        order = np.argsort(h)
        hs = h[order]
        found = np.zeros(len(h), dtype=bool)
        for level in self.levels:
            i = np.searchsorted(level, hs)
            i[i == len(level)] = len(level) - 1
            found |= level[i] == hs
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
        """Free the hashes once the window is read (the label join and the parts come after it, and
        the 10 M-record day's 80 MiB of hashes was the join's peak)."""
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
        level = np.sort(h)
        while self.levels and len(self.levels[-1]) <= 2 * len(level) and len(self.levels[-1]) + len(level) <= MAX_LEVEL:
            # Sorted in place (two sorted runs: timsort merges them): no third copy of the largest level.
            level = np.concatenate([self.levels.pop(), level])
            level.sort(kind="stable")
        self.levels.append(level)
