"""Freed memory handed back to the operating system at once, so peak RSS follows live data.

Why: glibc's ``malloc`` keeps freed memory in its arenas, and raises its ``mmap`` threshold each
time a large block is freed, so the next large blocks (a file's bytes, numpy arrays over a batch)
come from the arenas too and stay there. A streaming merge allocates and frees such blocks batch
after batch on several threads; the memory it held once stays counted. Measured on the 10 M-record
capture day (``bench/capture_merge.py``): peak RSS 735 → 508 MiB for the data-quality table, the
1 M-record merge with ground truth 586 → 466 MiB, no slower. (polars' own allocator, jemalloc,
already returns memory after a short delay; forcing it to at once costs twice the time.)

Setting ``M_TRIM_THRESHOLD`` to 0 makes ``free`` give memory at the top of a heap back at once.
It changes no result; where the C library is not glibc (macOS, musl) this does nothing.

Only ``capture_merge`` sets it (and so ``mmon capture-merge`` and ``mmon run --capture``), not every
command: it also fixes glibc's ``mmap`` threshold at 128 KiB, so every larger block is mapped afresh
and faulted in page by page. numpy-heavy readers pay for that: model quality on 1M merged records
took 5.0 s instead of 3.6 s through the CLI (2.8 s of system time, 1.07 M page faults instead of 0.11 M).

:func:`reading_blocks` is the other way round, for readers that parse a file in blocks of MiBs with
numpy (model quality's merged records): each block's temporaries (a few the block's size) were
mapped and faulted in afresh, block after block -- 12 of the 10 M-record read's 55 CPU s were system
time, 2.1 M page faults. Inside it, blocks up to 32 MiB come from the heap and up to 64 MiB of freed
heap is kept for the next block; on the way out the heap is trimmed, so what follows (the metrics'
sorts, the report) starts from what is live, not from the reading's high-water mark.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
_DEFAULT_MMAP_THRESHOLD = 128 * 1024  # glibc's, and what a trim threshold set by mallopt fixes it at
_done = False


def _libc() -> Any | None:
    """glibc's ``mallopt`` and ``malloc_trim``, or None (not Linux, or not glibc: musl has no mallopt)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def return_freed_memory() -> bool:
    """Ask glibc to return freed memory to the OS at once (idempotent); whether it took effect."""
    global _done
    if _done:
        return True
    libc = _libc()
    if libc is None:
        return False
    _done = libc.mallopt(_M_TRIM_THRESHOLD, 0) == 1
    # Setting a threshold freezes glibc's mmap threshold where it stands; a reading before
    # (reading_blocks, or large blocks freed) may have left it at 32 MiB, which kept 130 MiB more on
    # the 10M capture day: large blocks are mapped again, whatever ran first.
    libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
    return _done


@contextmanager
def reading_blocks() -> Iterator[None]:
    """Blocks of up to 32 MiB from the heap, 64 MiB of freed heap kept, while a file is read in
    blocks; the heap trimmed on the way out (see the module's docstring). Where
    :func:`return_freed_memory` is in force, it is put back afterwards; elsewhere the thresholds stay
    where glibc's own adjustment takes them at most (32 MiB, 64 MiB). Process-wide, as malloc is:
    two readings at once only share the setting. Changes no result."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
    libc.mallopt(_M_TRIM_THRESHOLD, 64 * 2**20)
    try:
        yield
    finally:
        libc.malloc_trim(0)
        if _done:  # as return_freed_memory left it: trim at once, large blocks mapped
            libc.mallopt(_M_TRIM_THRESHOLD, 0)
            libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
