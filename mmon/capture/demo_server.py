"""``make demo-server``: a small model server with capture, real traffic, then what it captured.

    python -m mmon.capture.demo_server OUT [--requests 1500]

Writes ``OUT/train.csv`` (the demo model's training set, as ``make demo``), starts the demo loan
model as a FastAPI app under uvicorn on 127.0.0.1 with :class:`CaptureMiddleware` writing to
``OUT/datacapture`` (100 % sampling) and labels to ``OUT/groundtruth``, sends it CSV requests
(the second half drifted: younger, poorer customers), posts labels for 70 % of them to
``/feedback`` (which calls ``writer.ground_truth``), prints the capture counters in Prometheus
text, and stops the server with SIGTERM (by its PID), which uploads what is still open. The
Makefile then runs ``mmon capture-status``, ``capture-merge`` and ``run`` on what was captured.

Needs FastAPI and uvicorn (mmon's ``test`` extra); mmon itself does not.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations, which name
# classes imported inside create_app().
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

FEATURES = ["age", "income", "credit_score", "tenure_months", "balance", "region", "product"]


def predict(row: list[str]) -> float:
    """The demo model: the logistic score ``mmon.demo.make_frame`` labels its rows with."""
    age, income, credit = float(row[0]), float(row[1]), float(row[2])
    logit = -8 + 0.012 * credit + 0.00001 * income - 0.01 * (age - 45) ** 2 / 10
    return round(1 / (1 + math.exp(-logit)), 6)


def create_app() -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import PlainTextResponse, Response

    from mmon.capture import CaptureMiddleware, CaptureWriter

    out = os.environ["MMON_DEMO_OUT"]
    writer = CaptureWriter(
        os.path.join(out, "datacapture"), "demo-endpoint", sampling_percentage=100,
        ground_truth_destination=os.path.join(out, "groundtruth"), max_file_seconds=5,
    )  # fmt: skip
    api = FastAPI()

    @api.post("/invocations")
    async def invocations(request: Request) -> Response:
        rows = (await request.body()).decode().splitlines()
        return Response("\n".join(str(predict(r.split(","))) for r in rows), media_type="text/csv")

    @api.post("/feedback")
    async def feedback(request: Request) -> Response:
        body = await request.json()
        writer.ground_truth(body["inference_id"], body["label"])
        return Response(status_code=204)

    @api.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(writer.prometheus())

    @api.get("/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    return CaptureMiddleware(api, writer, paths=["/invocations"])


def _post(url: str, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype, **(headers or {})}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m mmon.capture.demo_server OUT [--requests N]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    n = int(argv[argv.index("--requests") + 1]) if "--requests" in argv else 1500
    import numpy as np

    from mmon.demo import make_frame

    out.mkdir(parents=True, exist_ok=True)
    make_frame(20_000, seed=7).write_csv(out / "train.csv")
    # Text rows as a client would send them (the drifted half sends ages as "23.0").
    rows = [
        ",".join(str(v) for v in row)
        for frame in (make_frame(n // 2, seed=11), make_frame(n - n // 2, seed=12, drift=True))
        for row in frame.select(FEATURES).iter_rows()
    ]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = {**os.environ, "MMON_DEMO_OUT": str(out)}
    cmd = [sys.executable, "-m", "uvicorn", "mmon.capture.demo_server:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/ping", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("mmon demo: the model server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        print(f"model server with capture on {base} (pid {server.pid}); sending {n} requests")
        rng = np.random.default_rng(3)
        labelled = 0
        for i, line in enumerate(rows):
            prob = float(_post(base + "/invocations", line.encode(), "text/csv", {"X-Amzn-SageMaker-Inference-Id": f"req-{i}"}))
            if rng.random() < 0.7:
                label = int(rng.random() < prob)
                _post(base + "/feedback", json.dumps({"inference_id": f"req-{i}", "label": label}).encode(), "application/json")
                labelled += 1
        print(f"sent {n} requests, {labelled} labels")
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            wanted = ("sampled_in_total", "captured_total", "records_written_total", "dropped_total")
            for m in r.read().decode().splitlines():
                if not m.startswith("#") and any(w in m for w in wanted) and not m.endswith(" 0"):
                    print("  " + m)
    finally:
        server.send_signal(signal.SIGTERM)  # a clean shutdown: lifespan shutdown flushes the capture
        try:
            server.wait(40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"server stopped; capture in {out / 'datacapture'}, labels in {out / 'groundtruth'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
