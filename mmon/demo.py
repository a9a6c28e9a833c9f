"""Demo data for ``make demo``: a seeded loan-approval model's training set and a day of its traffic.

``python -m mmon.demo data OUT`` writes ``OUT/train.csv`` (the baseline dataset, prediction
column first as SageMaker lays out captured rows) and a day of endpoint capture and ground truth
in SageMaker's layout (``OUT/datacapture/demo-endpoint/AllTraffic/yyyy/mm/dd/hh/``,
``OUT/groundtruth/yyyy/mm/dd/hh/``) whose second half drifts: younger customers, lower incomes,
and a client that sends ages as ``23.0`` — so the monitoring run has something real to find.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mmon.capture.synth import PRODUCTS, REGIONS, demo, make_frame

__all__ = ["PRODUCTS", "REGIONS", "make_frame", "write_data"]


def write_data(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    train = out / "train.csv"
    make_frame(20_000, seed=7).write_csv(train)
    r = demo(str(out))
    return [
        f"wrote {train} (20000 rows)",
        f"wrote {r.records} capture records in {r.files} files over {r.hours} hours to {r.capture}",
        f"wrote {r.labels} ground-truth labels in {r.label_files} files to {r.ground_truth}",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "data":
        print("usage: python -m mmon.demo data OUT_DIR", file=sys.stderr)
        return 2
    for line in write_data(Path(argv[1])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
