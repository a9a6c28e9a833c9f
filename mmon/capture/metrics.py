"""The capture counters in Prometheus' text exposition format (version 0.0.4)."""

from __future__ import annotations

from typing import Any

# (stats key, metric name, type, help)
_METRICS = (
    ("sampled_in", "mmon_capture_sampled_in_total", "counter", "Requests selected by sampling."),
    ("sampled_out", "mmon_capture_sampled_out_total", "counter", "Requests not selected by sampling (nothing copied)."),
    ("captured", "mmon_capture_captured_total", "counter", "Capture records accepted into the queue."),
    ("labels", "mmon_capture_labels_total", "counter", "Ground-truth labels accepted into the queue."),
    ("records_written", "mmon_capture_records_written_total", "counter", "Capture records uploaded."),
    ("labels_written", "mmon_capture_labels_written_total", "counter", "Ground-truth labels uploaded."),
    ("files_written", "mmon_capture_files_written_total", "counter", "Files uploaded."),
    ("bytes_written", "mmon_capture_bytes_written_total", "counter", "Bytes uploaded."),
    ("upload_errors", "mmon_capture_upload_errors_total", "counter", "Failed upload attempts (each retried)."),
    ("errors", "mmon_capture_errors_total", "counter", "Other capture errors (logged, never raised)."),
    ("spool_recovered_records", "mmon_capture_spool_recovered_records_total", "counter",
     "Records found in the spool of a crashed process and queued for upload."),
    ("left_in_spool", "mmon_capture_left_in_spool_total", "counter",
     "Records not uploaded by the shutdown deadline but kept in the spool for the next start."),
    ("queue_records", "mmon_capture_queue_records", "gauge", "Records waiting in the in-memory queue."),
    ("queue_bytes", "mmon_capture_queue_bytes", "gauge", "Payload bytes waiting in the in-memory queue."),
    ("pending_files", "mmon_capture_pending_files", "gauge", "Closed files waiting for (another) upload attempt."),
    ("oldest_unflushed_age_seconds", "mmon_capture_oldest_unflushed_age_seconds", "gauge",
     "Age of the oldest record not uploaded yet (0 when none)."),
)  # fmt: skip


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(stats: dict[str, Any]) -> str:
    base = f'endpoint="{_esc(str(stats["endpoint"]))}",variant="{_esc(str(stats["variant"]))}"'
    lines: list[str] = []
    for key, name, kind, help_ in _METRICS:
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name}{{{base}}} {stats.get(key, 0)}"]
    name = "mmon_capture_dropped_total"
    lines += [f"# HELP {name} Records dropped, by reason.", f"# TYPE {name} counter"]
    for key in sorted(k for k in stats if k.startswith("dropped_")):
        lines.append(f'{name}{{{base},reason="{key[len("dropped_"):]}"}} {stats[key]}')
    return "\n".join(lines) + "\n"
