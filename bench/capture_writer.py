"""Benchmark of ``mmon.capture``: writer throughput and the latency a real server pays for capture.

    python bench/capture_writer.py                       # full: 500 req/s, 20 s per configuration, 3 runs
    python bench/capture_writer.py --rate 250 --seconds 4 --repeat 1 --records 50000   # a quick look

0. CPU per request and per record without servers (bench/capture_micro.py): the request path's
   cost, the background thread's, and the longest it keeps the GIL for one tick's batch. These
   barely move with the machine's load, unlike every latency below.
1. Throughput, one process, sampling 100 %: ``writer.capture()`` of CSV payloads (like the
   churn example's) as fast as one thread can call it; reported are the caller's cost per call
   (the request path) and records/s through the background thread to files on local disk (time
   from the first call until everything is uploaded), plain and gzip.
2. Latency: uvicorn+FastAPI (ASGI middleware) and gunicorn+Flask (WSGI middleware, 2 gthread
   workers) with capture at 100 % and 20 %, each against the same server without capture. The
   load is open-loop at ``--rate`` over 8 keep-alive connections; the phases alternate between
   the captured and the plain server (``--round`` seconds each) until each had ``--seconds``, so
   the machine's noise falls on both alike. p50/p99/p99.9 of the request time, the p99 capture
   adds, and the server's CPU time per request (user + system of its processes): unlike latency,
   CPU time barely moves when other work shares the machine, so its difference is what capture
   costs each request. Each configuration runs ``--repeat`` times (fresh servers each time); the
   table gives each run's row and then the median row of the runs (median of each column).

The load average (``uptime``) is printed beside every figure: on a shared machine it explains them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import markdown_table  # noqa: E402
from tests.capture.test_capture_lib_support import LoadResult, Server, csv_bodies, load, write_apps  # noqa: E402


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def throughput(records: int, gzip: bool, folder: str) -> tuple[float, float, int]:
    from mmon.capture import CaptureWriter

    bodies = [b.decode() for b in csv_bodies(1000, cols=69)]
    w = CaptureWriter(folder, "bench", max_queue_records=records + 1, max_queue_bytes=1 << 40, gzip=gzip,
                      handle_sigterm=False, max_file_seconds=3600)  # fmt: skip
    t0 = time.perf_counter()
    for i in range(records):
        w.capture(bodies[i % 1000], "0.036397725343704224", inference_id=str(i))
    t1 = time.perf_counter()
    give_up = t1 + 600
    while w.stats()["records_written"] < records and time.perf_counter() < give_up:
        w.flush(25)  # flush_timeout bounds one flush, not this measurement
    t2 = time.perf_counter()
    w.close(5)
    s = w.stats()
    assert s["records_written"] == records, s
    return (t1 - t0) / records * 1e6, records / (t2 - t0), s["bytes_written"]


def merge(acc: LoadResult, r: LoadResult) -> None:
    acc.sent += r.sent
    acc.ok += r.ok
    acc.errors += r.errors
    acc.late += r.late
    acc.latencies += r.latencies


def latency(kind: str, sampling: str, rate: float, seconds: float, rnd: float, apps: Path, tmp: Path) -> list[object]:
    cap = Path(tempfile.mkdtemp(prefix=f"cap-{kind}-{sampling}-", dir=tmp))
    workers = 2 if kind == "gunicorn" else 1
    a = Server(kind, apps, {"CAP_DEST": str(cap), "CAP_SAMPLING": sampling}, workers=workers).start()
    b = Server(kind, apps, {"CAP_ENABLED": "0"}, workers=workers).start()
    ra, rb = LoadResult(), LoadResult()
    bodies = csv_bodies(500, cols=69)
    load_before = os.getloadavg()[0]
    try:
        done, cpu_a, cpu_b = 0.0, 0.0, 0.0
        while done < seconds - 1e-9:
            step = min(rnd, seconds - done)
            c0 = a.cpu()
            merge(ra, load(a.port, rate, step, bodies))
            c1 = b.cpu()
            cpu_a += a.cpu() - c0
            merge(rb, load(b.port, rate, step, bodies))
            cpu_b += b.cpu() - c1
            done += step
    finally:
        a.stop()
        b.stop()
    recs = sum(1 for f in cap.rglob("*.jsonl") for _ in open(f))
    ms = lambda r, q: r.pct(q) * 1000  # noqa: E731
    return [
        ms(ra, 50), ms(rb, 50), ms(ra, 99), ms(rb, 99), ms(ra, 99.9), ms(rb, 99.9), (ra.pct(99) - rb.pct(99)) * 1000,
        cpu_a / ra.ok * 1e6, cpu_b / rb.ok * 1e6, ra.ok, rb.ok, recs, load_before, os.getloadavg()[0],
    ]  # fmt: skip


def fmt(name: str, what: str, v: list[float]) -> list[object]:
    p50a, p50b, p99a, p99b, p999a, p999b, added, cpua, cpub, oka, okb, recs, l0, l1 = v
    return [name, what, f"{oka:.0f}/{okb:.0f}", f"{p50a:.2f}", f"{p50b:.2f}", f"{p99a:.2f}", f"{p99b:.2f}", f"{p999a:.2f}",
            f"{p999b:.2f}", f"{added:+.2f}", f"{cpua:.0f} / {cpub:.0f}", f"{recs:.0f}", f"{l0:.1f} -> {l1:.1f}"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=200_000, help="records for the throughput part")
    ap.add_argument("--rate", type=float, default=500.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=20.0, help="load per server and configuration")
    ap.add_argument("--round", type=float, default=2.0, help="seconds per phase before switching server")
    ap.add_argument("--servers", default="uvicorn,gunicorn")
    ap.add_argument("--sampling", default="100,20")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (the median row is reported too)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-micro", action="store_true")
    args = ap.parse_args()
    print(f"# mmon.capture benchmark\n\n{uptime()}  (2 cores shared with other work: figures are noisy)\n")
    tmp = Path(tempfile.mkdtemp(prefix="capbench"))
    try:
        if not args.skip_micro:
            from bench.capture_micro import HEADERS
            from bench.capture_micro import rows as micro_rows

            print("## CPU per request without servers (bench/capture_micro.py; load-independent)\n")
            print(markdown_table(HEADERS, micro_rows()))
            print(f"\n{uptime()}\n")
        if not args.skip_throughput:
            rows = []
            for gz in (False, True):
                per_call, rps, nbytes = throughput(args.records, gz, str(tmp / f"tp-{gz}"))
                rows.append([f"{args.records:,}", "gzip" if gz else "plain", f"{per_call:.2f}", f"{rps:,.0f}",
                             f"{nbytes / 2**20:.1f}", uptime().split("load average:")[-1].strip()])  # fmt: skip
            print("## Throughput (one process, sampling 100 %, 69-column CSV records, local disk)\n")
            print(markdown_table(["records", "files", "capture() us/call", "records/s end to end", "MiB written", "load avg"], rows))
            print()
        apps = write_apps(tmp / "apps")
        rows = []
        what = f"{args.rate:g} req/s x {args.seconds:g} s"
        for kind in args.servers.split(","):
            for sampling in args.sampling.split(","):
                runs = []
                for i in range(args.repeat):
                    runs.append(latency(kind, sampling, args.rate, args.seconds, args.round, apps, tmp))
                    rows.append(fmt(f"{kind} {sampling} % run {i + 1}", what, runs[-1]))
                    print(f"  done: {kind} {sampling} % run {i + 1} ({uptime()})", file=sys.stderr)
                if args.repeat > 1:
                    med = [statistics.median(col) for col in zip(*runs, strict=True)]
                    rows.append(fmt(f"**{kind} {sampling} % median**", what, med))
        print("## Request latency with capture vs the same server without (alternating phases)\n")
        print(markdown_table(
            ["server, sampling", "load", "ok (cap/plain)", "p50 cap", "p50 plain", "p99 cap", "p99 plain", "p99.9 cap",
             "p99.9 plain", "added p99 ms", "server CPU us/request (cap / plain)", "records captured", "load avg"], rows))  # fmt: skip
        print(f"\n{uptime()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
