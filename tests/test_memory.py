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


# A child process reading "blocks" as model quality's merged-record reader does: a block's 8 MiB
# temporaries allocated, written and freed again and again. Prints the page faults of 20 blocks
# outside and inside ``reading_blocks`` (with return_freed_memory in force, as in the CLI's capture
# commands, every such block is mapped afresh), the RSS with 30 MiB freed inside and after leaving,
# and the RSS of the same 30 MiB freed once it has been left (return_freed_memory back in force).
_BLOCKS_CHILD = """
import ctypes, resource
from mmon.memory import reading_blocks, return_freed_memory
assert return_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def blocks():
    before = faults()
    for _ in range(20):
        b = libc.malloc(8 * 2**20)
        ctypes.memset(b, 1, 8 * 2**20)
        libc.free(b)
    return faults() - before

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // 2**20

def freed_30():
    held = [libc.malloc(2**20) for _ in range(30)]
    for b in held:
        ctypes.memset(b, 1, 2**20)
    for b in held:
        libc.free(b)

outside = blocks()
with reading_blocks():
    inside = blocks()
    freed_30()
    kept = rss()
left = rss()
freed_30()
print(outside, inside, kept, left, rss())
"""


@glibc
def test_reading_blocks_keeps_block_memory_and_trims_on_the_way_out() -> None:
    out = subprocess.run([sys.executable, "-c", _BLOCKS_CHILD], capture_output=True, text=True, check=True).stdout
    outside, inside, kept, left, after = (int(x) for x in out.split())
    assert outside > 20 * 2048 * 0.9  # each 8 MiB block faulted in afresh (2 048 pages)
    assert inside < 2 * 2048  # the first block only: the heap keeps it for the next
    assert kept - left > 20  # the freed 30 MiB were kept inside, given back on the way out
    assert after - left < 10  # return_freed_memory in force again: freed memory goes back at once


# reading_blocks first (its thresholds stay where it left them), then return_freed_memory, as a
# process that reads model quality and then merges capture does. A large block freed below a small
# one that is still held (the heap's top pinned) must go back at once: mapped on its own, as if
# nothing had run before, not carved from the heap where trimming cannot reach it.
_ORDER_CHILD = """
import ctypes
from mmon.memory import reading_blocks, return_freed_memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // 2**20

with reading_blocks():
    pass
assert return_freed_memory()
big = libc.malloc(16 * 2**20)
ctypes.memset(big, 1, 16 * 2**20)
pin = libc.malloc(64 * 1024)
ctypes.memset(pin, 1, 64 * 1024)
held = rss()
libc.free(big)
print(held, rss())
"""


@glibc
def test_return_freed_memory_after_a_reading_gives_large_blocks_back() -> None:
    out = subprocess.run([sys.executable, "-c", _ORDER_CHILD], capture_output=True, text=True, check=True).stdout
    held, after = (int(x) for x in out.split())
    assert held - after >= 12  # the 16 MiB block went back though a live block sits above it
