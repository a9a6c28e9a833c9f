"""The writer's one background thread: serialise, build files, upload, retry.

Every ``tick`` it takes what the request threads queued, serialises each record into the open
file of its kind and **inference** hour, closes files that are big enough, old enough or whose
hour is over, and uploads closed files, each with one PUT of the whole body under a key fixed when
the file was opened: a retry after a failure writes the same key again, so it replaces, never
duplicates. Failed uploads wait with exponential back-off (the thread keeps draining meanwhile);
their bodies are held in memory up to ``max_pending_bytes``, beyond which the oldest are dropped
and counted (with a spool they stay on disk for the next start).
"""

from __future__ import annotations

import gzip as _gzip
import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from mmon.capture.encode import (
    CaptureRecord,
    RawExchange,
    capture_file_name,
    capture_line,
    event_ids,
    ground_truth_line,
    hour_of,
    hour_path,
    label_file_name,
)
from mmon.capture.spool import Spool
from mmon.store import Store, is_local, join

if TYPE_CHECKING:
    from mmon.capture.writer import CaptureWriter

log = logging.getLogger("mmon.capture")

BATCH = 2000  # records serialised per pass of the loop
# The longest this thread works before it lets the request threads run. Python hands the GIL to a
# waiting thread only when the holder blocks or after the switch interval (5 ms): ``sleep(0)``
# releases and takes it back before the waiting thread has woken, so it yields nothing. A real
# (tiny) sleep does, and bounds what a request can wait for this thread to about HOLD_SECONDS.
HOLD_SECONDS = 0.0002
YIELD_SECONDS = 0.00002


def item_bytes(item: CaptureRecord | LabelRecord | RawExchange) -> int:
    """The bytes an item counts for in the queue (as CaptureWriter._put counted them)."""
    if type(item) is tuple:
        return item[3]
    if isinstance(item, CaptureRecord):
        return (len(item.input_data) if item.input_data else 0) + (len(item.output_data) if item.output_data else 0)
    assert isinstance(item, LabelRecord)
    return len(item.data) + 64


def item_time(item: CaptureRecord | LabelRecord | RawExchange) -> float:
    """Inference time (capture) or collection time (label) of a queued item."""
    if type(item) is tuple:
        return float(item[1].t)
    if isinstance(item, CaptureRecord):
        return item.inference_time
    assert isinstance(item, LabelRecord)
    return item.collected_at


@dataclass(slots=True)
class LabelRecord:
    event_id: str
    data: str
    encoding: str
    collected_at: float


@dataclass
class _Open:
    url: str
    kind: str
    hour: int
    opened: float  # monotonic
    oldest: float  # inference time of its first record (Unix seconds)
    # The body as it grows (lines encoded one by one): closing a 5 MB file then costs one copy,
    # not a join and an encode that would hold the GIL for milliseconds.
    body: bytearray = field(default_factory=bytearray)
    records: int = 0
    spool_path: str | None = None
    spool_file: IO[bytes] | None = None


@dataclass
class _Pending:
    url: str
    kind: str
    hour: int
    body: bytes
    records: int
    oldest: float
    spool_path: str | None = None
    attempts: int = 0
    next_try: float = 0.0


class Worker:
    def __init__(self, writer: CaptureWriter) -> None:
        self.w = writer
        self.open: dict[tuple[str, int], _Open] = {}
        self.pending: deque[_Pending] = deque()
        self.pending_bytes = 0
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.flush_gen = 0  # requested (written by flush callers under cond)
        self.flushed_gen = 0  # completed
        self.deadline = 0.0  # monotonic time a flush or the shutdown gives up
        self.flush_ok = True  # the last flush uploaded everything
        self.flush_target = 0  # records enqueued before the last flush request
        self.drained = 0  # records taken from the queue so far
        self.cond = threading.Condition()
        self.spool: Spool | None = None
        self._fs: Any = None
        self._last_status = 0.0
        self._status_written: tuple[int, ...] | None = None  # the counters last written
        self._status_url = join(
            writer.destination, writer.endpoint, writer.variant, "_mmon_capture_status",
            f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}.json",
        )  # fmt: skip
        self.thread = threading.Thread(target=self._run, name="mmon-capture", daemon=True)

    # -- the loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        w = self.w
        if w.spool_dir:
            try:
                self.spool = Spool(w.spool_dir)
                self._recover()
            except Exception as exc:  # noqa: BLE001 - the app runs on without the spool
                w._error("spool", exc)
                self.spool = None
        while True:
            self.wake.wait(w.tick)
            self.wake.clear()
            now = time.monotonic()
            stopping = self.stop.is_set()
            with self.cond:
                gen, deadline, target = self.flush_gen, self.deadline, self.flush_target
            wanted = stopping or gen > self.flushed_gen
            force = wanted and now < deadline
            try:
                self._drain()
                self._roll(force)
                self._upload(force)
                self._maybe_status(force)
            except Exception as exc:  # noqa: BLE001 - a bug here must not end capture
                w._error("worker", exc)
            # A flush is done once everything queued before it was drained into files (closed by
            # the forced roll) and nothing waits for upload: it does not chase records that arrived
            # since. Stopping also takes the queue's last records.
            done = (
                not self.open and not self.pending and self.drained >= target and (not stopping or not w._queue)
            )
            if wanted and (done or time.monotonic() >= deadline):
                if stopping and not done:
                    self._give_up()
                with self.cond:
                    self.flush_ok = done
                    self.flushed_gen = max(self.flushed_gen, gen)
                    self.cond.notify_all()
                if stopping:
                    break
            elif force:
                self.wake.set()
        if self.spool is not None:
            self.spool.close()

    def _recover(self) -> None:
        assert self.spool is not None
        for r in self.spool.recover():
            body = ("\n".join(r.lines) + "\n").encode("utf-8") if r.lines else b""
            if r.partial:
                self.w._count("dropped_crash_partial_line", r.partial)
            if not body:
                self.spool.done(r.path)
                continue
            if r.gzip:
                body = _gzip.compress(body, compresslevel=6)
            self.w._count("spool_recovered_records", len(r.lines))
            self._add_pending(_Pending(r.url, r.kind, 0, body, len(r.lines), time.time(), r.path))

    def _drain(self) -> None:
        w = self.w
        # At most BATCH records a pass: the files they close are uploaded before the next batch,
        # so a long queue cannot push closed files past max_pending_bytes before any upload.
        with w._lock:
            q = w._queue
            if not q:
                return
            batch = [q.popleft() for _ in range(min(BATCH, len(q)))]
            for item in batch:
                w._queued_bytes -= item_bytes(item)
            self.drained += len(batch)
            more = bool(q)
        if more:
            self.wake.set()  # the next pass comes at once, not after a tick
        touched: set[tuple[str, int]] = set()
        ids = event_ids(len(batch))
        clock = time.perf_counter
        since = clock()
        for n, item in enumerate(batch):
            if clock() - since > HOLD_SECONDS:
                time.sleep(YIELD_SECONDS)  # see HOLD_SECONDS
                since = clock()
            try:
                if type(item) is tuple:  # a middleware's exchange: joined and decoded here
                    rec = item[0].record(item[1], item[2])
                    if rec is None:
                        continue
                    item = rec
                if isinstance(item, CaptureRecord):
                    if not item.event_id:
                        item.event_id = ids[n]
                    if w.redact is not None:
                        try:
                            red = w.redact(item)
                        except Exception as exc:  # noqa: BLE001 - fail closed: the record is left out
                            w._count("dropped_redact_error")
                            w._error("redact", exc, count=False)
                            continue
                        if red is None:
                            w._count("dropped_redacted")
                            continue
                        item = red
                    line = capture_line(item, w.csv_content_types, w.json_content_types, w.record_status)
                    key = self._append("capture", item.inference_time, (line + "\n").encode("utf-8"))
                else:
                    assert isinstance(item, LabelRecord)
                    line = ground_truth_line(item.event_id, item.data, item.encoding)
                    key = self._append("label", item.collected_at, (line + "\n").encode("utf-8"))
                touched.add(key)
            except Exception as exc:  # noqa: BLE001 - one bad record costs one record
                w._count("dropped_error")
                w._error("serialise", exc, count=False)
        for key in touched:
            f = self.open.get(key)
            if f is not None and f.spool_file is not None:
                try:
                    f.spool_file.flush()
                except OSError as exc:
                    w._error("spool", exc)

    def _append(self, kind: str, t: float, line: bytes) -> tuple[str, int]:
        w = self.w
        hour = hour_of(t)
        key = (kind, hour)
        f = self.open.get(key)
        if f is None:
            if kind == "capture":
                url = join(w.destination, w.endpoint, w.variant, *hour_path(hour).split("/"), capture_file_name(t, w.gzip))
            else:
                assert w.ground_truth_destination is not None
                url = join(w.ground_truth_destination, *hour_path(hour).split("/"), label_file_name(w.gzip))
            f = self.open[key] = _Open(url, kind, hour, time.monotonic(), t)
            if self.spool is not None:
                try:
                    f.spool_path, f.spool_file = self.spool.open(url, kind, w.gzip)
                except OSError as exc:
                    w._error("spool", exc)
        f.body += line
        f.records += 1
        if f.spool_file is not None:
            try:
                f.spool_file.write(line)
            except OSError as exc:
                w._error("spool", exc)
        if len(f.body) >= w.max_file_bytes:
            self._close(key)
        return key

    def _roll(self, force: bool) -> None:
        w = self.w
        now_mono, now = time.monotonic(), time.time()
        this_hour = hour_of(now)
        for key in list(self.open):
            f = self.open[key]
            if force or len(f.body) >= w.max_file_bytes or now_mono - f.opened >= w.max_file_seconds or f.hour < this_hour:
                self._close(key)

    def _close(self, key: tuple[str, int]) -> None:
        f = self.open.pop(key)
        # zlib releases the GIL while it compresses; the plain copy is one memcpy.
        body = _gzip.compress(f.body, compresslevel=6) if self.w.gzip else bytes(f.body)
        if f.spool_file is not None:
            f.spool_file.close()
        self._add_pending(_Pending(f.url, f.kind, f.hour, body, f.records, f.oldest, f.spool_path))

    def _add_pending(self, p: _Pending) -> None:
        self.pending.append(p)
        self.pending_bytes += len(p.body)
        if self.pending_bytes > self.w.max_pending_bytes:
            self._upload(False)  # make room by uploading; only what cannot be uploaded is dropped
        while self.pending_bytes > self.w.max_pending_bytes and len(self.pending) > 1:
            old = self.pending.popleft()
            self.pending_bytes -= len(old.body)
            self.w._count("dropped_upload_failed", old.records)
            log.warning("mmon capture: %s not uploaded after %d attempt(s); dropped from memory%s",
                        old.url, old.attempts, " (kept in the spool)" if old.spool_path else "")  # fmt: skip

    def _upload(self, force: bool) -> None:
        w = self.w
        now = time.monotonic()
        for _ in range(len(self.pending)):
            p = self.pending[0]
            if not force and p.next_try > now:
                self.pending.rotate(-1)
                continue
            try:
                self._put(p.url, p.body)
            except Exception as exc:  # noqa: BLE001 - retried later under the same key
                p.attempts += 1
                p.next_try = time.monotonic() + min(w.max_backoff, w.min_backoff * 2 ** (p.attempts - 1))
                w._count("upload_errors")
                w._error("upload", exc, count=False)
                self.pending.rotate(-1)
                # The store is likely down for the others too: go back to draining the queue (or,
                # when flushing, wait a moment instead of hammering it).
                if force:
                    time.sleep(min(0.5, w.min_backoff))
                return
            self.pending.popleft()
            self.pending_bytes -= len(p.body)
            w._count("labels_written" if p.kind == "label" else "records_written", p.records)
            w._count("files_written")
            w._count("bytes_written", len(p.body))
            if p.kind == "capture" and p.hour:
                w._last_hour = max(w._last_hour, p.hour)
            if p.spool_path and self.spool is not None:
                self.spool.done(p.spool_path)

    def _put(self, url: str, body: bytes) -> None:
        w = self.w
        if w._put_hook is not None:
            w._put_hook(url, body)
            return
        if is_local(url):
            Store().write_bytes(url, body)  # temp file + rename: atomic
            return
        if self._fs is None:
            self._fs = w._fs_ready or _filesystem(w.store, url, w.upload_timeout)
        self._fs.pipe_file(url, body)  # one PUT (bodies are far below the multipart size)

    def _maybe_status(self, force: bool) -> None:
        w = self.w
        if w.status_interval is None:
            return
        with w._lock:
            counts = tuple(w._counts.values())
        if counts == self._status_written:  # nothing new to tell
            return
        if not force and time.monotonic() - self._last_status < w.status_interval:
            return
        import json

        try:
            self._put(self._status_url, json.dumps(w.stats(), sort_keys=True).encode("utf-8"))
            self._status_written = counts
        except Exception as exc:  # noqa: BLE001 - tried again at the next interval
            w._error("status", exc)
        self._last_status = time.monotonic()

    # -- called from other threads ---------------------------------------------------------------
    def oldest_unflushed(self) -> float | None:
        times = [f.oldest for f in list(self.open.values())] + [p.oldest for p in list(self.pending)]
        return min(times) if times else None

    def request_flush(self, timeout: float, stop: bool = False) -> bool:
        """Upload everything queued so far; True when done within ``timeout`` seconds."""
        with self.w._lock:
            enqueued = self.w._enqueued
        with self.cond:
            self.flush_target = max(self.flush_target, enqueued)
            self.flush_gen += 1
            gen = self.flush_gen
            self.deadline = time.monotonic() + timeout
            if stop:
                self.stop.set()
            self.wake.set()
            finished = self.cond.wait_for(lambda: self.flushed_gen >= gen or not self.thread.is_alive(), timeout + 1.0)
            return bool(finished and self.flushed_gen >= gen and self.flush_ok)

    def _give_up(self) -> None:
        """Shutdown deadline passed: what is still here is lost (or left in the spool for the next start)."""
        w = self.w
        with w._lock:
            queued, w._queue = len(w._queue), deque()
            w._queued_bytes = 0
        w._count("dropped_shutdown", queued)
        for f in self.open.values():
            w._count("left_in_spool" if f.spool_path else "dropped_shutdown", f.records)
            if f.spool_file is not None:
                f.spool_file.close()
        for p in self.pending:
            w._count("left_in_spool" if p.spool_path else "dropped_shutdown", p.records)
        self.open.clear()
        self.pending.clear()
        self.pending_bytes = 0
        log.warning("mmon capture: shutdown deadline passed with records not uploaded (see the counters)")


def _filesystem(store: Store, url: str, timeout: float) -> Any:
    """An fsspec filesystem with short timeouts and no hidden retries: the worker retries itself."""
    proto = url.split("://", 1)[0].lower()
    if proto not in ("s3", "s3a"):
        return store.fs(url)
    import fsspec

    s = store.s3_settings()
    client_kwargs: dict[str, Any] = {}
    if "endpoint_url" in s:
        client_kwargs["endpoint_url"] = s["endpoint_url"]
    client_kwargs["region_name"] = s.get("region", "us-east-1")
    fs = fsspec.filesystem(
        "s3", key=s.get("key"), secret=s.get("secret"), token=s.get("token"), anon=s.get("anon") == "true",
        client_kwargs=client_kwargs, skip_instance_cache=True, use_listings_cache=False,
        config_kwargs={"connect_timeout": timeout, "read_timeout": timeout, "retries": {"total_max_attempts": 1}},
    )  # fmt: skip
    fs.retries = 1
    return fs
