"""Table parts made while the window is read (``chunks.stage_early``): kept only when the window's
final columns are the ones they were made with, so the bytes are those of parts made at the end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mmon.capture import chunks, merge
from mmon.capture.merge import capture_merge
from mmon.capture.window import Window, parse_time
from mmon.store import Store
from tests.capture_parts import parts

HOUR = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))


def _window(root: Path, last_inputs: str, gt: bool = False) -> None:
    """6 files of 20 records (inputs ``1,2``, output a probability); the last file's inputs are
    ``last_inputs`` -- a third field adds a column to the window (payload columns are text: only
    new columns change the window's columns)."""
    folder = root / "cap" / "2024/01/01/10"
    folder.mkdir(parents=True)
    labels = []
    for f in range(6):
        lines = []
        for r in range(20):
            n = f * 20 + r
            data = last_inputs if f == 5 else f"{n % 7},{n % 3}"
            lines.append(json.dumps({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": f"0.{n % 10}", "encoding": "CSV"},
                },
                "eventMetadata": {"eventId": f"e-{n}", "inferenceTime": f"2024-01-01T10:{f:02d}:{r:02d}Z"},
                "eventVersion": "0",
            }))  # fmt: skip
            labels.append(json.dumps({"groundTruthData": {"data": str(n % 2), "encoding": "CSV"},
                                      "eventMetadata": {"eventId": f"e-{n}"}, "eventVersion": "0"}))  # fmt: skip
        (folder / f"{f:02d}-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    if gt:
        (root / "gt" / "2024/01/01/10").mkdir(parents=True)
        (root / "gt" / "2024/01/01/10" / "labels.jsonl").write_text("\n".join(labels) + "\n")


def _run(root: Path, out: str, early: bool, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple[list[bytes], list[str]]:
    made: list[int] = []
    real = chunks.stage_early

    def spy(state, fmt, exprs_of):  # type: ignore[no-untyped-def]
        stage = real(state, fmt, exprs_of)

        def counted(i: int, frame: pl.DataFrame) -> None:
            if early:
                stage(i, frame)
                made.append(i)

        return counted

    monkeypatch.setattr(merge, "stage_early", spy)
    s = capture_merge(Store(), str(root / "cap"), str(root / out), HOUR, chunk_records=20, **kw)  # type: ignore[arg-type]
    assert (len(made) > 2) == early  # several chunks, made early (or not at all)
    return [p.read_bytes() for p in parts(root / out, str(kw.get("fmt", "jsonl")))], s.columns


@pytest.mark.parametrize("last_inputs", ["1,2", "1,2,3"], ids=["same columns", "a new column"])
@pytest.mark.parametrize(("fmt", "gt"), [("jsonl", False), ("parquet", False), ("parquet", True)])
def test_early_parts_are_the_parts_made_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last_inputs: str, fmt: str, gt: bool
) -> None:
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 1)
    _window(tmp_path, last_inputs, gt)
    kw: dict[str, object] = {"fmt": fmt}
    if gt:
        kw.update(ground_truth=str(tmp_path / "gt"), flat=True)
    early, cols = _run(tmp_path, "early", True, monkeypatch, **kw)
    late, cols_late = _run(tmp_path, "late", False, monkeypatch, **kw)
    assert len(early) >= 4 and early == late and cols == cols_late
    if fmt == "parquet":  # every part has the window's columns and types
        schemas = {tuple(pl.read_parquet(p).schema.items()) for p in parts(tmp_path / "early", "parquet")}
        assert len(schemas) == 1
        assert ("_c3" in dict(next(iter(schemas)))) == (last_inputs == "1,2,3")
