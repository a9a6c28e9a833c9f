"""``mmon capture-status``: what a CaptureWriter (or SageMaker) has written under a capture prefix."""

from __future__ import annotations

import gzip
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.table import Table

from mmon.capture.writer import DROP_REASONS
from mmon.cli.console import out, print_json, warn
from mmon.cli.options import EXIT_CODES_HELP, JsonOutput, StorageOption
from mmon.errors import InputError
from mmon.store import Store, parse_storage_options

HELP = """Summarise the data capture under PREFIX: files, records, the last hour written and drops, per endpoint/variant.

PREFIX is a capture destination ({prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl[.gz]), an endpoint folder or one variant folder. Every capture file below it is read and its records (non-blank lines) counted. Drops, upload errors and the records each process uploaded come from the status objects that mmon's CaptureWriter keeps under {endpoint}/{variant}/_mmon_capture_status/ (one per process, totals since that process started); SageMaker's own capture has none, so those columns stay empty.

An existing PREFIX with no capture file and no status object is an error (exit 2): nothing was read.

[bold]Examples[/]

  mmon capture-status s3://bucket/datacapture

  mmon capture-status datacapture/churn/AllTraffic --json
"""

_HOUR = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/([^/]+)$")
_STATUS_DIR = "_mmon_capture_status"


@dataclass
class _Variant:
    name: str
    files: int = 0
    records: int = 0
    bytes: int = 0
    first_hour: str | None = None
    last_hour: str | None = None
    last_file: str | None = None
    processes: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    upload_errors: int = 0
    uploaded_by_writers: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["dropped"] = sum(self.drops.values()) if self.processes else None
        return d


def _rel(prefix: str, url: str) -> str:
    return url[len(prefix) :].lstrip("/\\").replace("\\", "/")


def _count_lines(store: Store, url: str) -> tuple[int, int]:
    data = store.read_bytes(url)
    size = len(data)
    if url.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{url}: not a valid gzip file ({exc})") from exc
    return sum(1 for line in data.split(b"\n") if line.strip()), size


def capture_status(store: Store, prefix: str, workers: int = 16) -> list[_Variant]:
    prefix = prefix.rstrip("/")
    if not store.exists(prefix):
        raise InputError(f"{prefix}: no such file or folder")
    files = store.find(prefix)
    variants: dict[str, _Variant] = {}
    data_files: list[tuple[_Variant, str, str]] = []
    status_files: list[tuple[_Variant, str]] = []
    for url in files:
        rel = _rel(prefix, url)
        parts = rel.split("/")
        if len(parts) >= 2 and parts[-2] == _STATUS_DIR and rel.endswith(".json"):
            name = "/".join(parts[:-2]) or "."
            status_files.append((variants.setdefault(name, _Variant(name)), url))
            continue
        m = _HOUR.search(rel)
        if not m or not m.group(5).endswith((".jsonl", ".jsonl.gz")):
            continue
        name = rel[: m.start()].strip("/") or "."
        hour = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:00:00Z"
        data_files.append((variants.setdefault(name, _Variant(name)), url, hour))
    if not data_files and not status_files:
        raise InputError(f"{prefix}: no capture file (yyyy/mm/dd/hh/*.jsonl) and no capture status object below it")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(lambda item: _count_lines(store, item[1]), data_files))
        statuses = list(pool.map(lambda item: store.read_text(item[1]), status_files))
    for (v, url, hour), (n, size) in zip(data_files, counts, strict=True):
        v.files += 1
        v.records += n
        v.bytes += size
        v.first_hour = min(v.first_hour or hour, hour)
        key = (hour, url.rsplit("/", 1)[-1])
        if v.last_hour is None or key > (v.last_hour, (v.last_file or "").rsplit("/", 1)[-1]):
            v.last_hour, v.last_file = hour, url
    for (v, url), text in zip(status_files, statuses, strict=True):
        try:
            s = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{url}: not JSON ({exc})") from exc
        v.processes += 1
        for r in DROP_REASONS:
            v.drops[r] = v.drops.get(r, 0) + int(s.get(f"dropped_{r}", 0))
        v.upload_errors += int(s.get("upload_errors", 0))
        v.uploaded_by_writers += int(s.get("records_written", 0))
        if s.get("last_error"):
            v.last_error = str(s["last_error"])
    return [variants[k] for k in sorted(variants)]


def register(app: typer.Typer) -> None:
    @app.command("capture-status", help=HELP, epilog=EXIT_CODES_HELP)
    def capture_status_cmd(
        prefix: Annotated[str, typer.Argument(help="Capture prefix, endpoint folder or variant folder.", metavar="PREFIX")],
        workers: Annotated[int, typer.Option("--workers", help="Files read at the same time.", min=1, max=256)] = 16,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
    ) -> None:
        store = Store(parse_storage_options(storage_option or []))
        found = capture_status(store, prefix, workers)
        if json_output:
            print_json({"prefix": prefix, "variants": [v.to_dict() for v in found]})
            return
        t = Table(title=f"capture under {prefix}")
        for col in ("endpoint/variant", "files", "records", "bytes", "first hour", "last hour written", "processes", "dropped", "upload errors"):
            t.add_column(col, justify="left" if col in ("endpoint/variant", "first hour", "last hour written") else "right")
        for v in found:
            dropped = (", ".join(f"{r} {n}" for r, n in v.drops.items() if n) or "0") if v.processes else "-"
            t.add_row(
                v.name, str(v.files), str(v.records), str(v.bytes), v.first_hour or "-", v.last_hour or "-",
                str(v.processes), dropped, str(v.upload_errors) if v.processes else "-",
            )  # fmt: skip
        out.print(t)
        for v in found:
            if v.last_error:
                warn(f"{v.name}: last capture error reported by a writer: {v.last_error}")
