"""The seeded fuzz run of issue 15 (generator: tests/fuzzgen.py).

A fast sample runs with the suite; ``-m slow`` runs more than 10 000 cases. Both must find no
internal error, no lost or altered good capture line (counts that add up exactly to the lines
written, good records as if the bad ones were absent), no error without its file and line or JSON
pointer, and no wrong exit code. The slow run prints its figures (``pytest -s``).

The slow run merges capture cases of one payload style 100 to a window (a failing window is re-run
case by case to name the case) and spreads its cases over the machine's cores: its cases and
figures are the same as one by one, in a fraction of the time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.fuzzgen import FAILURES, run_fuzz


def _check(seed: int, counts: dict[str, int], tmp: Path, **how: int) -> None:
    start = time.monotonic()
    figures = run_fuzz(seed, counts, tmp, **how)
    print(f"\nfuzz seed {seed}: {figures.summary()} ({time.monotonic() - start:.0f} s)")
    assert sum(figures.cases.values()) == sum(counts.values())
    assert figures.capture_bad_lines > 0 or counts.get("capture", 0) == 0
    assert [figures.failures[name] for name in FAILURES] == [0, 0, 0, 0], (
        figures.summary() + "\n" + "\n".join(figures.examples)
    )


def test_fuzz_sample(tmp_path: Path) -> None:
    _check(15, {"capture": 25, "dataset": 15, "document": 10, "option": 15}, tmp_path, capture_batch_size=5)


@pytest.mark.slow
def test_fuzz_ten_thousand(tmp_path: Path) -> None:
    workers = min(4, len(os.sched_getaffinity(0)))
    # Every output is written durably (fsync); in memory that costs nothing, on a CI disk it is
    # a good part of the run. Cases that pass are removed, so little memory is used.
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="mmon-fuzz-", dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    try:
        _check(1515, {"capture": 4000, "dataset": 2500, "document": 1800, "option": 1900}, base,
               workers=workers, capture_batch_size=100)  # fmt: skip
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def test_batched_capture_cases_are_the_same_cases(tmp_path: Path) -> None:
    # Merged by style, many to a window, or one by one: the same cases, lines and figures.
    one = run_fuzz(7, {"capture": 12}, tmp_path / "one")
    batched = run_fuzz(7, {"capture": 12}, tmp_path / "batched", capture_batch_size=4)
    assert one.summary() == batched.summary() and one.capture_lines > 12


def test_a_failing_window_names_its_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.fuzzgen as fuzzgen
    from mmon.errors import InputError

    real = fuzzgen.capture_merge

    def refuse_shared_windows(store, capture, out, window):  # type: ignore[no-untyped-def]
        files = list(Path(capture).rglob("*.jsonl"))
        if len({f.name.split("-")[1] for f in files}) > 1:
            raise InputError("refused")  # only when several cases share the window
        return real(store, capture, out, window)

    monkeypatch.setattr(fuzzgen, "capture_merge", refuse_shared_windows)
    units = fuzzgen.fuzz_units(7, {"capture": 12}, 4)
    figures = fuzzgen.run_unit(units[0], tmp_path)
    assert figures.failures["lost_or_altered"] == 1
    assert "only with cases" in figures.examples[0] and str([i for i, _ in units[0][1]]) in figures.examples[0]
