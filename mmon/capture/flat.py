"""The flat rows a capture merge writes: their reserved columns, and how ground-truth labels attach
to a record's rows. Shared by the real-time merge (``merge``) and batch-transform capture (``batch``)."""

from __future__ import annotations

import polars as pl

from mmon.capture.payload import label_rows

# Reserved columns of every flat output. ``mmon run`` must leave them out of the analysis:
# every column whose name starts with META_PREFIX is bookkeeping, not a feature.
META_PREFIX = "__mmon_"
EVENT_ID = "__mmon_event_id"
INFERENCE_ID = "__mmon_inference_id"
INFERENCE_TIME = "__mmon_inference_time"
META_COLUMNS = (EVENT_ID, INFERENCE_ID, INFERENCE_TIME)
# Model-quality columns of the flat merge with ground truth.
PREDICTION, PROBABILITY, LABEL = "prediction", "probability", "label"


def attach_labels(recs: pl.DataFrame, rows: pl.DataFrame, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give each row its label: one label per record applies to all its rows, else row by row."""
    lab, lab_bad = label_rows(recs.select("_rec", "gt_data", "gt_enc"))
    n_lab = lab.group_by("_rec").agg(pl.len().alias("_n_lab"))
    n_rows = rows.group_by("_rec").agg(pl.len().alias("_n_rows"))
    counts = n_rows.join(n_lab, on="_rec", how="left")
    mismatch = counts.filter(pl.col("_n_lab").is_not_null() & (pl.col("_n_lab") != 1) & (pl.col("_n_lab") != pl.col("_n_rows")))
    extra = mismatch.select("_rec", pl.format("groundTruthData has {} labels but the record has {} rows", "_n_lab", "_n_rows").alias("_reason"))
    bad = pl.concat([bad, lab_bad.select(pl.col("_rec").cast(pl.UInt32), "_reason"), extra]).unique(
        subset="_rec", keep="first", maintain_order=True
    ).sort("_rec")
    rows = rows.join(bad.select("_rec"), on="_rec", how="anti")
    single = lab.join(n_lab.filter(pl.col("_n_lab") == 1), on="_rec", how="semi").select("_rec", pl.col("label").alias("_l1"))
    rows = (
        rows.join(single, on="_rec", how="left")
        .join(lab.rename({"label": "_lr"}), on=["_rec", "_row"], how="left")
        .with_columns(pl.coalesce("_l1", "_lr").alias(LABEL))
        .drop("_l1", "_lr")
    )
    return rows, bad
