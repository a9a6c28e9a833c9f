"""Task planning for the Spark engine (driver side): files cut into tasks of consecutive files.

Spark's own file split (about 128 MB a task) grouped by file, never reordered and never cut, then
balanced so that every core has work in the last wave. Pure functions of the file sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only
    from mmon.readers import DatasetFile
    from mmon.store import Store

# Spark's defaults for splitting files into partitions (spark.sql.files.maxPartitionBytes and
# spark.sql.files.openCostInBytes): a file "costs" its size plus 4 MB to open.
MAX_SPLIT_BYTES = 128 * 1024 * 1024
OPEN_COST_BYTES = 4 * 1024 * 1024


def plan_tasks(
    sizes: list[int], parallelism: int, max_split: int = MAX_SPLIT_BYTES, open_cost: int = OPEN_COST_BYTES
) -> list[list[int]]:
    """Group file indices into tasks of consecutive files: Spark's split size, then balanced.

    Spark's FilePartition.maxSplitBytes: ``min(maxPartitionBytes, max(openCost, total / parallelism))``
    where every file counts its size plus the open cost; a split is closed when the next file
    would take it past that. Unlike Spark, files are never reordered by size (the fold follows the
    file order) and never cut: one file is always one task's, whatever its size.

    Spark's greedy packing leaves a short last split (100 files of 0.1 MB on 2 cores: 3 tasks of 32
    files and one of 4, so one core does 64 files while the other does 36), and without reordering
    nothing fills that gap. So the number of tasks is rounded up to a multiple of the parallelism
    (every core has work in the last wave) and the files are cut into that many consecutive groups
    of about equal cost (a file goes to the group its middle falls in). If that would put several
    files over Spark's split, the files are packed instead at the smallest capacity that needs no
    more groups (a bigger file is a group of its own). Either way no group of several files is
    bigger than Spark's split allows.
    """
    p = max(1, parallelism)
    costs = [s + open_cost for s in sizes]
    total = sum(costs)
    split = min(max_split, max(open_cost, total // p))
    capacity = split + open_cost  # Spark closes a split when the next file's size (not cost) passes it
    tasks = _pack(costs, capacity)
    target = min(len(sizes), -(-len(tasks) // p) * p)
    if target <= 1:
        return tasks
    even = _even_groups(costs, target)
    if all(len(t) == 1 or sum(costs[i] for i in t) <= capacity for t in even):
        return even
    lo, hi = 1, capacity  # hi is feasible: Spark's own plan needs no more than target groups
    while lo < hi:  # the smallest capacity whose packing needs no more than target groups
        mid = (lo + hi) // 2
        if len(_pack(costs, mid)) <= target:
            hi = mid
        else:
            lo = mid + 1
    return _pack(costs, lo)


def _even_groups(costs: list[int], n: int) -> list[list[int]]:
    """Consecutive groups of about ``total / n`` each: a file joins the group its middle falls in."""
    total = sum(costs) or 1
    groups: list[list[int]] = [[] for _ in range(n)]
    before = 0
    for i, cost in enumerate(costs):
        groups[min(n - 1, (2 * before + cost) * n // (2 * total))].append(i)
        before += cost
    return [g for g in groups if g]


def _pack(costs: list[int], capacity: int) -> list[list[int]]:
    """Consecutive groups, each closed when the next file would take it past ``capacity``."""
    tasks: list[list[int]] = []
    current: list[int] = []
    current_cost = 0
    for i, cost in enumerate(costs):
        if current and current_cost + cost > capacity:
            tasks.append(current)
            current, current_cost = [], 0
        current.append(i)
        current_cost += cost
    if current:
        tasks.append(current)
    return tasks


def file_sizes(store: Store, files: list[DatasetFile]) -> list[int]:
    """Sizes from the store (fsspec caches the listing that found the files, so S3 is rarely asked again)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda f: store.size(f.url), files))
