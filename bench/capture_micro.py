"""CPU cost of ``mmon.capture`` per request, without servers or sockets (so it barely depends on
what else runs on the machine). Used by bench/capture_writer.py; runnable alone:

    python bench/capture_micro.py

1. Request path: the ASGI and WSGI middleware around a trivial app (a 69-column CSV request, an
   8-byte answer), thread CPU per request minus the bare app's, sampling 100 % and 20 %. The queue
   is drained between chunks of 500 requests, as the background thread does every 0.1 s.
2. Background thread: process CPU per record of draining those chunks into files (local disk),
   flush included.
3. The longest stretch the background thread keeps the GIL for one tick's batch at 500 req/s
   (50 records): a request that arrives meanwhile waits up to that long. Measured in the thread's
   CPU time between its yields (sleeps with a positive delay).
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.capture.test_capture_lib_support import csv_bodies  # noqa: E402

CHUNK = 500
_bodies = csv_bodies(CHUNK, cols=69)
_OUT = b"0.123456"
_scopes = [
    {"type": "http", "path": "/invocations", "method": "POST", "headers": [
        (b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*"), (b"content-type", b"text/csv"),
        (b"content-length", str(len(b)).encode())]}
    for b in _bodies
]  # fmt: skip
_msgs = [{"type": "http.request", "body": b, "more_body": False} for b in _bodies]
# A gunicorn-like environ (about 25 keys).
_env = {
    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": True,
    "wsgi.run_once": False, "wsgi.errors": sys.stderr, "wsgi.file_wrapper": None, "gunicorn.socket": None,
    "SERVER_SOFTWARE": "gunicorn", "REQUEST_METHOD": "POST", "QUERY_STRING": "", "RAW_URI": "/invocations",
    "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1", "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
    "CONTENT_TYPE": "text/csv", "wsgi.input_terminated": True, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
    "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5000", "SCRIPT_NAME": "", "PATH_INFO": "/invocations",
}  # fmt: skip
_envs = [{**_env, "CONTENT_LENGTH": str(len(b))} for b in _bodies]


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]})
    await send({"type": "http.response.body", "body": _OUT})


async def _send(msg: Any) -> None:
    pass


async def _asgi_chunk(app: Any, n: int = CHUNK) -> float:
    t0 = time.thread_time()
    for i in range(n):
        m = _msgs[i]

        async def receive(m: Any = m) -> Any:
            return m

        await app(_scopes[i], receive, _send)
    return time.thread_time() - t0


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/csv")])
    return [_OUT]


def _wsgi_chunk(app: Any) -> float:
    t0 = time.thread_time()
    for i in range(CHUNK):
        e = _envs[i].copy()
        e["wsgi.input"] = io.BytesIO(_bodies[i])
        r = app(e, lambda s, h, exc=None: None)
        for _ in r:
            pass
        close = getattr(r, "close", None)
        if close is not None:
            close()
    return time.thread_time() - t0


def _writer(pct: float) -> Any:
    from mmon.capture import CaptureWriter

    return CaptureWriter(tempfile.mkdtemp(prefix="capmicro"), "m", sampling_percentage=pct, tick=1000,
                         handle_sigterm=False, status_interval=None, max_file_seconds=3600)  # fmt: skip


def _measure(kind: str, pct: float | None, rounds: int) -> tuple[float, float | None]:
    """(median request-path CPU us per request, background CPU us per record) over ``rounds`` chunks."""
    from mmon.capture import CaptureMiddleware, WSGICaptureMiddleware

    w = _writer(pct) if pct is not None else None
    run: Callable[[], float]
    if kind == "asgi":
        a = CaptureMiddleware(_app, w) if w is not None else _app
        run = lambda: asyncio.run(_asgi_chunk(a))  # noqa: E731
    else:
        b = WSGICaptureMiddleware(_wsgi_app, w) if w is not None else _wsgi_app
        run = lambda: _wsgi_chunk(b)  # noqa: E731
    req, bg = [], 0.0
    for _ in range(rounds):
        req.append(run() / CHUNK * 1e6)
        if w is not None:
            t0 = time.process_time()
            w.flush(20)
            bg += time.process_time() - t0
    per = None
    if w is not None:
        s = w.stats()
        w.close(20)
        assert s["records_written"] == s["captured"], s
        per = bg / max(1, s["captured"]) * 1e6
    return sorted(req)[len(req) // 2], per


def _hold(pct: float, ticks: int = 200) -> tuple[float, float]:
    """(median, p99) over ticks of the longest GIL hold in ms, 50 requests per tick."""
    from mmon.capture import CaptureMiddleware
    from mmon.capture import worker as wk

    segs: list[float] = []
    mark = [0.0]
    real = time.sleep

    class _Time:  # the worker module's ``time``, noting the thread CPU time between real yields
        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        def sleep(self, s: float) -> None:
            real(s)
            if s > 0:  # sleep(0) hands the GIL to no one (see worker.HOLD_SECONDS): not a yield
                segs.append(time.thread_time() - mark[0])
                mark[0] = time.thread_time()

    w = _writer(pct)
    app = CaptureMiddleware(_app, w)
    holds = []
    saved = wk.time
    wk.time = _Time()  # type: ignore[assignment]
    try:
        asyncio.run(_asgi_chunk(app, 50))  # starts the thread
        for _ in range(ticks):
            asyncio.run(_asgi_chunk(app, 50))
            segs.clear()
            mark[0] = time.thread_time()
            w._worker._drain()
            segs.append(time.thread_time() - mark[0])
            holds.append(max(segs))
    finally:
        wk.time = saved
        w.close(20)
    holds.sort()
    return holds[len(holds) // 2] * 1e3, holds[int(0.99 * (len(holds) - 1))] * 1e3


def rows(rounds: int = 40) -> list[list[str]]:
    out = []
    for kind in ("asgi", "wsgi"):
        base = _measure(kind, None, rounds)[0]
        for pct in (100.0, 20.0):
            r, b = _measure(kind, pct, rounds)
            h50, h99 = _hold(pct) if kind == "asgi" else (float("nan"), float("nan"))
            out.append([f"{kind} {pct:g} %", f"{base:.2f}", f"{r - base:+.2f}", f"{b:.1f}" if b is not None else "",
                        f"{h50:.3f} / {h99:.3f}" if kind == "asgi" else "-"])  # fmt: skip
    return out


HEADERS = ["middleware, sampling", "bare app us/request", "request path us/request (added)",
           "background us/record", "longest GIL hold per tick ms (median / p99)"]  # fmt: skip


if __name__ == "__main__":
    from bench._common import markdown_table

    print(markdown_table(HEADERS, rows()))
