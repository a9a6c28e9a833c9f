"""The seeded fuzz run of issue 15 (generator: tests/fuzzgen.py).

A fast sample runs with the suite; ``-m slow`` runs more than 10 000 cases. Both must find no
internal error, no lost or altered good capture line (counts that add up exactly to the lines
written, good records as if the bad ones were absent), no error without its file and line or JSON
pointer, and no wrong exit code. The slow run prints its figures (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzgen import run_fuzz


def _check(seed: int, counts: dict[str, int], tmp: Path) -> None:
    figures = run_fuzz(seed, counts, tmp)
    print(f"\nfuzz seed {seed}: {figures.summary()}")
    assert sum(figures.cases.values()) == sum(counts.values())
    assert figures.capture_bad_lines > 0 or counts.get("capture", 0) == 0
    assert (figures.internal_errors, figures.lost_or_altered, figures.no_location, figures.wrong_exit) == (0, 0, 0, 0), (
        figures.summary() + "\n" + "\n".join(figures.examples)
    )


def test_fuzz_sample(tmp_path: Path) -> None:
    _check(15, {"capture": 25, "dataset": 15, "document": 10, "option": 15}, tmp_path)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 15 item 6 not yet ported to stats/measure.py: seed 1515 finds 70 datasets with 1e999-like text whose "
    "baseline is refused only when its own statistics.json is validated (no input line named) and 1 wrong exit code; "
    "0 internal errors, 0 lost or altered good lines",
)
def test_fuzz_ten_thousand(tmp_path: Path) -> None:
    _check(1515, {"capture": 4000, "dataset": 2500, "document": 1800, "option": 1900}, tmp_path)
