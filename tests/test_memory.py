"""mmon.memory: freed memory goes back to the OS at once (glibc), so peak RSS follows live data."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's trim threshold is glibc's")

# A child process doing what a streaming merge does to glibc: a large block (a file's bytes) freed
# raises glibc's thresholds, so the next blocks of 1 MiB come from the heap; all freed, the RSS
# that stays. glibc keeps them by default (its trim threshold rose to 32 MiB).
_CHILD = """
import ctypes, sys
if sys.argv[1] == "1":
    from mmon.memory import return_freed_memory
    assert return_freed_memory() and return_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
big = libc.malloc(16 * 2**20)
libc.free(big)
blocks = [libc.malloc(2**20) for _ in range(30)]
for b in blocks:
    ctypes.memset(b, 1, 2**20)
for b in blocks:
    libc.free(b)
with open("/proc/self/statm") as f:
    print(int(f.read().split()[1]) * 4096 // 2**20)
"""


@glibc
def test_freed_heap_memory_is_returned() -> None:
    rss = [int(subprocess.run([sys.executable, "-c", _CHILD, arg], capture_output=True, text=True, check=True).stdout)
           for arg in ("0", "1")]  # fmt: skip
    assert rss[0] - rss[1] > 20  # the freed 30 MiB: kept by default, given back at once with it
