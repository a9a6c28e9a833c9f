"""``CaptureWriter``: SageMaker data capture from any Python process, without hurting its traffic.

The request path does only this: a sampling draw (nothing is copied for a request that is not
sampled), then one append to a bounded in-memory queue under a short lock. A full queue drops the
record and counts it; there is never a blocking put and never a thread per record. Serialising,
building files and uploading happen on one background thread per process (:mod:`worker`), started
by the first capture in that process, so a server that forks workers (gunicorn, uvicorn
``--workers``) gets one thread per worker. Every error inside capture is counted and logged, never
raised into the application.

Delivery is at-most-once by default (what is in memory is lost on a crash); with ``spool_dir``
each record is also appended to a local spool file by the background thread, and files a crashed
process did not upload are uploaded by the next writer that starts with the same folder.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mmon.capture.encode import (
    DEFAULT_CSV_TYPES,
    DEFAULT_JSON_TYPES,
    CaptureRecord,
    RawExchange,
    label_text,
    to_bytes,
)
from mmon.capture.worker import LabelRecord, Worker, item_time
from mmon.store import Store

log = logging.getLogger("mmon.capture")

# Counters, in the order stats() and the Prometheus text show them.
COUNTERS = (
    "sampled_in", "sampled_out", "captured", "labels", "records_written", "labels_written", "files_written",
    "bytes_written", "upload_errors", "errors", "spool_recovered_records",
)  # fmt: skip
DROP_REASONS = (
    "queue_full", "too_large", "incomplete", "redacted", "redact_error", "error", "upload_failed",
    "shutdown", "closed", "crash_partial_line",
)  # fmt: skip

_writers: weakref.WeakSet[CaptureWriter] = weakref.WeakSet()


class CaptureWriter:
    """Write SageMaker data-capture records (and ground-truth labels) to a local folder or any fsspec URL.

    Files: ``{destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/{mm-ss-SSS}-{uuid}.jsonl[.gz]`` by
    inference hour; labels: ``{ground_truth_destination}/yyyy/mm/dd/hh/{uuid}.jsonl[.gz]`` by the
    hour they are collected. A file is closed at ``max_file_bytes``, after ``max_file_seconds`` or
    when its hour is over, and uploaded with one PUT.

    ``record_status=True`` also writes a response's HTTP status as ``eventMetadata.httpStatus``:
    off by default because it is not one of SageMaker's keys and record preprocessors receive
    ``eventMetadata`` as it is (README, "Capture from your own model server").
    """

    def __init__(
        self,
        destination: str,
        endpoint: str,
        variant: str = "AllTraffic",
        sampling_percentage: float = 100.0,
        *,
        ground_truth_destination: str | None = None,
        capture_input: bool = True,
        capture_output: bool = True,
        csv_content_types: Sequence[str] = DEFAULT_CSV_TYPES,
        json_content_types: Sequence[str] = DEFAULT_JSON_TYPES,
        gzip: bool = False,
        max_file_bytes: int = 5_000_000,
        max_file_seconds: float = 60.0,
        max_queue_records: int = 10_000,
        max_queue_bytes: int = 64_000_000,
        max_pending_bytes: int = 128_000_000,
        max_payload_bytes: int = 1_000_000,
        redact: Callable[[CaptureRecord], CaptureRecord | None] | None = None,
        record_status: bool = False,
        spool_dir: str | None = None,
        flush_timeout: float = 20.0,
        upload_timeout: float = 5.0,
        storage_options: Mapping[str, str] | None = None,
        status_interval: float | None = 60.0,
        handle_sigterm: bool = True,
        tick: float = 0.1,
    ) -> None:
        if not 0 <= sampling_percentage <= 100:
            raise ValueError(f"sampling_percentage must be within 0..100, not {sampling_percentage}")
        if not 0 < flush_timeout < 30:
            raise ValueError("flush_timeout must be under 30 s (Kubernetes' default grace period)")
        self.destination = destination.rstrip("/")
        self.endpoint, self.variant = endpoint, variant
        self.sampling_percentage = float(sampling_percentage)
        self._p = self.sampling_percentage / 100.0
        self.ground_truth_destination = ground_truth_destination.rstrip("/") if ground_truth_destination else None
        self.capture_input, self.capture_output = capture_input, capture_output
        self.csv_content_types = tuple(t.lower() for t in csv_content_types)
        self.json_content_types = tuple(t.lower() for t in json_content_types)
        self.gzip = gzip
        self.max_file_bytes, self.max_file_seconds = max_file_bytes, max_file_seconds
        self.max_queue_records, self.max_queue_bytes = max_queue_records, max_queue_bytes
        self.max_pending_bytes, self.max_payload_bytes = max_pending_bytes, max_payload_bytes
        self.redact, self.record_status = redact, record_status
        self.spool_dir = spool_dir
        self.flush_timeout, self.upload_timeout = flush_timeout, upload_timeout
        self.status_interval, self.tick = status_interval, tick
        self.min_backoff, self.max_backoff = 0.5, 30.0
        self.store = Store(dict(storage_options or {}))
        self._put_hook: Callable[[str, bytes], None] | None = None  # tests: a store that fails on purpose
        self._handle_sigterm = handle_sigterm
        self._reset()
        _writers.add(self)
        _install_sigterm(self)

    def _reset(self) -> None:
        """Per-process state (also run in a forked child: its parent's queue and thread are not its own)."""
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._queue: deque[CaptureRecord | LabelRecord | RawExchange] = deque()
        self._queued_bytes = 0
        self._enqueued = 0  # items ever queued (a flush waits for those queued before it)
        self._counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._counts.update({f"dropped_{r}": 0 for r in DROP_REASONS})
        self._counts["left_in_spool"] = 0
        self._worker: Worker | None = None
        self._closed = False
        self._closing = False
        self._close_done = threading.Event()
        self._close_ok = True
        self._last_hour = 0
        self._last_error = ""
        self._fs_ready: Any = None  # the store client prepare() made (not valid across a fork)

    # -- the request path ------------------------------------------------------------------------
    def sample(self) -> bool:
        """One sampling draw (counted); call before copying anything of a request."""
        p = self._p
        if p >= 1.0 or (p > 0.0 and random.random() < p):
            with self._lock:
                self._counts["sampled_in"] += 1
            return True
        with self._lock:
            self._counts["sampled_out"] += 1
        return False

    def capture(
        self,
        inputs: Any = None,
        outputs: Any = None,
        content_type: str = "text/csv",
        output_content_type: str | None = None,
        inference_id: str | None = None,
        inference_time: float | None = None,
        status: int | None = None,
        custom_attributes: str | None = None,
    ) -> bool:
        """Capture one inference (sampled); True when it was queued. Never raises.

        ``inputs`` / ``outputs`` are the request and response payloads: bytes or str verbatim (the
        cheapest: nothing is copied), or rows/objects, which are turned into CSV or JSON text here,
        on the caller's thread, so they may be changed afterwards. ``inference_time`` is Unix
        seconds at request receipt (default: now).
        """
        t = time.time() if inference_time is None else inference_time
        try:
            if not self.sample():
                return False
            out_ct = output_content_type or content_type
            i = to_bytes(inputs, content_type, self.csv_content_types, self.json_content_types) if self.capture_input and inputs is not None else None
            o = to_bytes(outputs, out_ct, self.csv_content_types, self.json_content_types) if self.capture_output and outputs is not None else None
            rec = CaptureRecord(i, o, content_type, out_ct, t, inference_id, status=status, custom_attributes=custom_attributes)
            return self.submit(rec)
        except Exception as exc:  # noqa: BLE001 - capture never breaks the application
            self._count("dropped_error")
            self._error("capture", exc, count=False)
            return False

    def submit(self, rec: CaptureRecord) -> bool:
        """Queue a record that was already sampled (used by the middleware). Never blocks, never raises."""
        try:
            n = (len(rec.input_data) if rec.input_data else 0) + (len(rec.output_data) if rec.output_data else 0)
            if n > self.max_payload_bytes:
                self._count("dropped_too_large")
                return False
            return self._put(rec, n, "captured")
        except Exception as exc:  # noqa: BLE001
            self._count("dropped_error")
            self._error("capture", exc, count=False)
            return False

    def ground_truth(self, inference_id: str, label: Any, collected_at: float | None = None) -> bool:
        """Queue a ground-truth label for the inference with this id (its inferenceId, else eventId).

        Written as SageMaker's ground-truth record under the hour it is collected (``collected_at``,
        Unix seconds, default now). Never raises; True when queued.
        """
        try:
            if self.ground_truth_destination is None:
                raise ValueError("CaptureWriter(ground_truth_destination=...) is not set")
            data, enc = label_text(label)
            t = time.time() if collected_at is None else collected_at
            return self._put(LabelRecord(str(inference_id), data, enc, t), len(data) + 64, "labels")
        except Exception as exc:  # noqa: BLE001
            self._count("dropped_error")
            self._error("ground_truth", exc, count=False)
            return False

    def _put(self, item: CaptureRecord | LabelRecord | RawExchange, nbytes: int, counter: str) -> bool:
        if self._worker is None:
            self._start()
        with self._lock:
            if self._closed:
                self._counts["dropped_closed"] += 1
                return False
            if len(self._queue) >= self.max_queue_records or self._queued_bytes + nbytes > self.max_queue_bytes:
                self._counts["dropped_queue_full"] += 1
                return False
            self._queue.append(item)
            self._queued_bytes += nbytes
            self._enqueued += 1
            self._counts[counter] += 1
        return True

    def start(self) -> None:
        """Start the background thread now (else the first capture does): uploads what a crashed
        process left in the spool without waiting for traffic. Call it after forking."""
        try:
            if self._worker is None:
                self._start()
        except Exception as exc:  # noqa: BLE001
            self._error("start", exc)

    def prepare(self) -> None:
        """Set up the store's client now, before serving: for S3 that is importing s3fs/botocore
        and building a client, about a second of CPU under the GIL, which would otherwise stall
        requests at the first upload. The ASGI middleware calls it at lifespan startup; call it
        once per process before traffic elsewhere (gunicorn: in ``post_fork``). Never raises."""
        try:
            from mmon.store import is_local

            if self._fs_ready is None and not is_local(self.destination):
                from mmon.capture.worker import _filesystem

                fs = _filesystem(self.store, self.destination, self.upload_timeout)
                # s3fs: the client itself (no request is sent); other stores' connect() may fetch
                # credentials over the network, which startup should not wait for.
                if self.destination.split("://", 1)[0].lower() in ("s3", "s3a") and callable(getattr(fs, "connect", None)):
                    fs.connect()
                self._fs_ready = fs
        except Exception as exc:  # noqa: BLE001 - the first upload tries again
            self._error("prepare", exc)

    def _start(self) -> None:
        with self._start_lock:
            if self._worker is not None or self._closed:
                return
            worker = Worker(self)
            worker.thread.start()
            self._worker = worker
        _install_sigterm(self)

    # -- counting and errors ---------------------------------------------------------------------
    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def _error(self, where: str, exc: BaseException, count: bool = True) -> None:
        if count:
            self._count("errors")
        self._last_error = f"{where}: {type(exc).__name__}: {exc}"[:300]
        log.warning("mmon capture %s error: %s: %s", where, type(exc).__name__, exc)

    # -- flushing --------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Close every open file and upload everything queued before this call; True when it was all
        uploaded within ``timeout`` (default ``flush_timeout``). Records keep being accepted meanwhile."""
        worker = self._worker
        if worker is None:
            return True
        return worker.request_flush(self.flush_timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush and stop the background thread (within ``timeout``, default ``flush_timeout``); idempotent."""
        timeout = self.flush_timeout if timeout is None else timeout
        with self._start_lock:
            self._closed = True
            worker = self._worker
            first = not self._closing
            self._closing = True
        if not first:  # lifespan shutdown, atexit and SIGTERM may all ask: one flush, one deadline
            self._close_done.wait(timeout + 2.0)
            return self._close_ok
        ok = True
        if worker is not None and worker.thread.is_alive():
            ok = worker.request_flush(timeout, stop=True)
            worker.thread.join(1.0)
        self._close_ok = ok
        self._close_done.set()
        return ok

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observability ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters of this process (since it started or forked) and the current queue state."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            out["queue_records"] = len(self._queue)
            out["queue_bytes"] = self._queued_bytes
            first = self._queue[0] if self._queue else None
        worker = self._worker
        oldest = worker.oldest_unflushed() if worker is not None else None
        if first is not None:
            t = item_time(first)
            oldest = t if oldest is None else min(oldest, t)
        out["pending_files"] = len(worker.pending) if worker is not None else 0
        out["oldest_unflushed_age_seconds"] = round(max(0.0, time.time() - oldest), 3) if oldest is not None else 0.0
        out["dropped"] = sum(out[f"dropped_{r}"] for r in DROP_REASONS)
        out["last_hour_written"] = (
            time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(self._last_hour)) if self._last_hour else None
        )
        out["last_error"] = self._last_error or None
        out.update(endpoint=self.endpoint, variant=self.variant, pid=os.getpid(), time=time.time())
        return out

    def prometheus(self) -> str:
        """The counters in Prometheus' text exposition format (``mmon_capture_*``)."""
        from mmon.capture.metrics import prometheus_text

        return prometheus_text(self.stats())


# -- process lifecycle -------------------------------------------------------------------------------
def _after_fork() -> None:
    for w in list(_writers):
        worker = w._worker
        if worker is not None and worker.spool is not None:
            try:
                worker.spool.after_fork()
            except OSError:
                pass
        w._reset()


def _close_all() -> None:
    """Close every writer of the process within one shared deadline (the shortest flush_timeout)."""
    writers = list(_writers)
    if not writers:
        return
    deadline = time.monotonic() + min(w.flush_timeout for w in writers)
    for w in writers:
        try:
            w.close(max(0.1, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - the process is exiting
            log.warning("mmon capture: close at exit failed: %s", exc)


_previous_sigterm: Any = None
_sigterm_installed = False


def _on_sigterm(signum: int, frame: Any) -> None:
    # The flush runs on a thread of its own and the handler returns at once: the handler runs on
    # the main thread between two bytecodes, possibly inside one of the writer's short critical
    # sections, and waiting there for the background thread (which needs that lock) would
    # deadlock. SIGTERM's default action follows the flush (or its deadline); a second SIGTERM
    # ends the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def finish() -> None:
        try:
            _close_all()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=finish, name="mmon-capture-sigterm", daemon=True).start()


def _install_sigterm(w: CaptureWriter) -> None:
    """Flush on SIGTERM when nobody else handles it (servers' own handlers run lifespan/atexit instead)."""
    global _sigterm_installed
    if _sigterm_installed or not w._handle_sigterm or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)
            _sigterm_installed = True
    except (ValueError, OSError):  # not the main interpreter / thread
        pass


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_close_all)
