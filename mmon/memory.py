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
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_done = False


def return_freed_memory() -> bool:
    """Ask glibc to return freed memory to the OS at once (idempotent); whether it took effect."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = mallopt(_M_TRIM_THRESHOLD, 0) == 1
    return _done
