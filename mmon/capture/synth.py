"""Synthetic SageMaker data capture and ground truth, in SageMaker's exact layout and bytes.

Used by the tests, ``bench/capture_merge.py`` and the demo. Capture lines are byte-for-byte what a
real-time endpoint writes (compact JSON, keys ``captureData`` / ``eventMetadata`` /
``eventVersion``; polars' JSON encoder reproduces the real example lines exactly), under
``{capture}/yyyy/mm/dd/hh/{mm-ss-SSS}-{uuid}.jsonl``; labels are written the way SageMaker's
examples write them (``json.dumps`` style, ``", "`` separators) under
``{ground_truth}/yyyy/mm/dd/hh/{uuid}.jsonl``, in the hour they are "collected".

``python -m mmon.capture.synth OUT`` writes a day of demo traffic (the demo model's rows from
:mod:`mmon.demo`) to ``OUT/datacapture/demo-endpoint/AllTraffic`` and ``OUT/groundtruth``.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from mmon.capture.window import format_time, hour_folder
from mmon.store import Store, join


@dataclass
class SynthResult:
    capture: str
    ground_truth: str | None
    records: int
    files: int
    hours: int
    labels: int
    label_files: int
    start: datetime
    end: datetime
    index: pl.DataFrame  # event_id, inference_id, inference_time, hour, labelled, label


def _uuids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def _as_text(df: pl.DataFrame) -> pl.Expr:
    """One CSV row per DataFrame row, values as polars writes them (``37.0`` stays ``37.0``)."""
    return pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in df.columns], separator=",")


def write_capture(
    store: Store,
    capture: str,
    inputs: pl.DataFrame,
    outputs: Sequence[Any] | pl.Series,
    start: datetime,
    records_per_hour: int,
    ground_truth: str | None = None,
    labels: Sequence[Any] | pl.Series | None = None,
    label_fraction: float = 0.7,
    label_delay: timedelta = timedelta(0),
    files_per_hour: int = 4,
    seed: int = 0,
    inference_ids: bool = True,
    input_content_type: str = "text/csv",
    output_content_type: str = "text/csv; charset=utf-8",
    workers: int = 16,
    first_id: int = 0,
) -> SynthResult:
    """Write one capture record per row of ``inputs`` (CSV payloads), ``records_per_hour`` per hour.

    Row i is captured at ``start + i * 3600 / records_per_hour`` seconds (whole seconds, as
    SageMaker writes ``inferenceTime``). With ``ground_truth`` and ``labels``, a seeded
    ``label_fraction`` of the rows get a ground-truth record, filed under the hour of
    ``inference time + label_delay``; the label's ``eventId`` is the record's ``inferenceId``
    (or its ``eventId`` without inference ids), which is how SageMaker joins them. Inference ids
    count from ``first_id``: a large capture is written a slice at a time (each slice a fresh
    ``start`` and seed) without two records sharing an id.
    """
    n = inputs.height
    if len(outputs) != n:
        raise ValueError("outputs must have one value per input row")
    if records_per_hour <= 0 or files_per_hour <= 0:
        raise ValueError("records_per_hour and files_per_hour must be positive")
    start = start.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    event_ids = _uuids(rng, n)
    offsets_us = [(i // records_per_hour) * 3_600_000_000 + (i % records_per_hour) * 3_600_000_000 // records_per_hour for i in range(n)]
    base = pl.DataFrame(
        {
            "event_id": event_ids,
            "inference_id": [str(first_id + i) for i in range(n)] if inference_ids else [None] * n,
            "_us": offsets_us,
            "out": pl.Series(list(outputs) if not isinstance(outputs, pl.Series) else outputs).cast(pl.String),
        }
    ).with_columns(
        (pl.lit(start) + pl.duration(microseconds=pl.col("_us"))).dt.truncate("1s").alias("_t"),
        pl.Series("in", inputs.select(_as_text(inputs)).to_series()),
        (pl.int_range(pl.len()) // records_per_hour).alias("hour"),
        ((pl.int_range(pl.len()) % records_per_hour) * files_per_hour // records_per_hour).alias("_part"),
    )
    base = base.with_columns(pl.col("_t").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("inference_time"))

    def side(name: str, data: str, ctype: str, mode: str, enc: str = "CSV") -> pl.Expr:
        return pl.struct(
            pl.lit(ctype).alias("observedContentType"), pl.lit(mode).alias("mode"),
            pl.col(data).alias("data"), pl.lit(enc).alias("encoding"),
        ).alias(name)  # fmt: skip

    meta = [pl.col("event_id").alias("eventId")]
    if inference_ids:
        meta.append(pl.col("inference_id").alias("inferenceId"))
    meta.append(pl.col("inference_time").alias("inferenceTime"))
    record = pl.struct(
        pl.struct(
            side("endpointInput", "in", input_content_type, "INPUT"),
            side("endpointOutput", "out", output_content_type, "OUTPUT"),
        ).alias("captureData"),
        pl.struct(meta).alias("eventMetadata"),
        pl.lit("0").alias("eventVersion"),
    ).struct.json_encode()
    base = base.with_columns(record.alias("_line"))

    # One file per (hour, part), named after its first record's minute-second-millisecond.
    files = base.group_by("hour", "_part", maintain_order=True).agg(
        pl.col("_t").first().alias("first"), pl.col("_line").str.join("\n").alias("body")
    )
    names = _uuids(rng, files.height)
    writes: dict[str, bytes] = {}
    for (first, body), name in zip(files.select("first", "body").iter_rows(), names, strict=True):
        ms = first.microsecond // 1000
        path = join(capture, *hour_folder(first).split("/"), f"{first.minute:02d}-{first.second:02d}-{ms:03d}-{name}.jsonl")
        writes[path] = (body + "\n").encode("utf-8")
    n_capture_files = len(writes)

    labelled = pl.Series("labelled", [False] * n)
    label_files = 0
    if ground_truth is not None and labels is not None:
        if len(labels) != n:
            raise ValueError("labels must have one value per input row")
        lrng = random.Random(seed + 1)
        labelled = pl.Series("labelled", [lrng.random() < label_fraction for _ in range(n)])
        key = pl.col("inference_id") if inference_ids else pl.col("event_id")
        label_text = pl.Series("label", list(labels) if not isinstance(labels, pl.Series) else labels).cast(pl.String)
        quoted = pl.struct(pl.col("label")).struct.json_encode().str.strip_prefix('{"label":').str.strip_suffix("}")
        gt = (
            base.with_columns(label_text, labelled)
            .filter(pl.col("labelled"))
            .with_columns((pl.col("_t") + label_delay).alias("_collected"))
            .with_columns(pl.col("_collected").dt.truncate("1h").alias("_gt_hour"))
            .select(
                "_gt_hour",
                (
                    pl.lit('{"groundTruthData": {"data": ') + quoted + pl.lit(', "encoding": "CSV"}, "eventMetadata": {"eventId": "')
                    + key + pl.lit('"}, "eventVersion": "0"}')
                ).alias("_gt"),
            )
        )  # fmt: skip
        gt_files = gt.group_by("_gt_hour", maintain_order=True).agg(pl.col("_gt").str.join("\n").alias("body"))
        gt_names = _uuids(rng, gt_files.height)
        for (hour, body), name in zip(gt_files.iter_rows(), gt_names, strict=True):
            writes[join(ground_truth, *hour_folder(hour).split("/"), f"{name}.jsonl")] = (body + "\n").encode("utf-8")
        label_files = gt_files.height
    _write_all(store, writes, workers)
    end = base["_t"].max() if n else start
    index = base.select(
        "event_id", "inference_id", "inference_time", "hour",
        labelled.alias("labelled"),
        (pl.Series("label", list(labels)).cast(pl.String) if labels is not None else pl.lit(None, pl.String)).alias("label"),
    )  # fmt: skip
    n_hours = (n - 1) // records_per_hour + 1 if n else 0
    return SynthResult(
        capture=capture, ground_truth=ground_truth, records=n, files=n_capture_files,
        hours=n_hours, labels=int(labelled.sum()), label_files=label_files,
        start=start, end=end + timedelta(seconds=1) if isinstance(end, datetime) else start, index=index,
    )  # fmt: skip


def _write_all(store: Store, writes: dict[str, bytes], workers: int) -> None:
    items = list(writes.items())
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        list(pool.map(lambda kv: store.write_bytes(kv[0], kv[1]), items))


# The demo model (``make demo``, ``python -m mmon.demo data``): its inputs and prediction.
REGIONS = ["north", "south", "east", "west", "central"]
PRODUCTS = ["basic", "plus", "premium"]


def make_frame(n: int, seed: int, drift: bool = False) -> pl.DataFrame:
    """Rows of the demo model's inputs and its prediction (a probability), seeded."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 70, n)
    income = rng.lognormal(10.8, 0.45, n)
    if drift:
        age = rng.integers(18, 40, n)  # a younger population arrives
        income = income * 0.6
    tenure = rng.integers(0, 240, n)
    balance = np.round(rng.gamma(2.0, 1500.0, n), 2)
    credit = np.clip(rng.normal(680, 60, n), 300, 850).round().astype(int)
    region = rng.choice(REGIONS, n, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    product = rng.choice(PRODUCTS, n, p=[0.6, 0.3, 0.1])
    logit = -8 + 0.012 * credit + 0.00001 * income - 0.01 * (age - 45) ** 2 / 10
    prob = 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "approved_probability": np.round(prob, 6),
            # After the drift a client also starts sending ages as floats ("23.0"): a type violation.
            "age": age.astype(np.float64) if drift else age,
            "income": np.round(income, 2),
            "credit_score": credit,
            "tenure_months": tenure,
            "balance": balance,
            "region": region,
            "product": product,
        }
    )


def demo(out: str, hours: int = 24, records_per_hour: int = 500, seed: int = 11) -> SynthResult:
    """A day of the demo model's traffic: later hours drift; 70 % of predictions get a label."""
    half = hours * records_per_hour // 2

    def as_text(df: pl.DataFrame) -> pl.DataFrame:
        # Captured CSV is text: the drifted half sends ages as floats ("23.0"), as in the seed story.
        return df.with_columns(pl.exclude("approved_probability").cast(pl.String))

    frame = pl.concat(
        [as_text(make_frame(half, seed=seed)), as_text(make_frame(hours * records_per_hour - half, seed=seed + 1, drift=True))]
    )
    prob = frame["approved_probability"]
    rng = np.random.default_rng(seed)
    labels = (rng.random(frame.height) < prob.to_numpy()).astype(int)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    store = Store()
    return write_capture(
        store, join(out, "datacapture", "demo-endpoint", "AllTraffic"), frame.drop("approved_probability"), prob,
        start, records_per_hour, ground_truth=join(out, "groundtruth"), labels=labels.tolist(),
        label_fraction=0.7, label_delay=timedelta(hours=1), files_per_hour=6, seed=seed,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mmon.capture.synth OUT_DIR", file=sys.stderr)
        return 2
    r = demo(argv[0])
    print(
        f"wrote {r.records} capture records in {r.files} files over {r.hours} hours "
        f"({format_time(r.start)} to {format_time(r.end)}) to {r.capture}, "
        f"{r.labels} labels in {r.label_files} files to {r.ground_truth}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
