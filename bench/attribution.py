"""Benchmark of feature-attribution baselines (``mmon.attribution``): model calls and wall time.

    python bench/attribution.py                      # 1000 records x 10 features
    python bench/attribution.py --records 5000 --batch-size 5000

Seeded data (normal, 10 features) and the linear model ``fixtures/models/attribution_models.py:linear10``.
Scenarios: Clarify-style config (one baseline row, ``num_samples`` 100) with the Python callable and
with a CSV HTTP endpoint on 127.0.0.1 (``http.server``, same model); and the heavy default (no
baseline: 10-cluster k-means background, ``num_samples`` default = all 1022 coalitions). Wall time
is the library call alone (imports and data writing excluded). The table is markdown; nothing asserts.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.models.attribution_models import linear10  # noqa: E402
from mmon.attribution import AttributionOptions, baseline_attribution  # noqa: E402
from mmon.attribution.kernel_shap import coalitions, default_num_samples  # noqa: E402
from mmon.store import Store  # noqa: E402

MODEL = f"{ROOT / 'fixtures' / 'models' / 'attribution_models.py'}:linear10"
FEATURES = [f"f{i}" for i in range(10)]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        rows = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
        out = "\n".join(repr(float(v)) for v in linear10(rows)).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--skip-heavy", action="store_true", help="skip the all-coalitions k-means scenario")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mmon-bench-attr-"))
    x = np.random.default_rng(0).normal(size=(args.records, 10))
    data = tmp / "data.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FEATURES)
        w.writerows([[repr(float(v)) for v in r] for r in x])

    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/invocations"

    light = {"headers": FEATURES, "methods": {"shap": {"baseline": [[0.0] * 10], "num_samples": 100}}}
    heavy = {"headers": FEATURES, "methods": {"shap": {}}}
    scenarios = [
        ("callable, 1 baseline row, num_samples 100", MODEL, light, 1, 100),
        ("HTTP CSV endpoint, 1 baseline row, num_samples 100", url, light, 1, 100),
    ]
    if not args.skip_heavy:
        scenarios.append(
            (
                "callable, k-means 10 background, all 1022 coalitions",
                MODEL,
                heavy,
                10,
                default_num_samples(10),
            )
        )
    opts = AttributionOptions(max_records=args.records, batch_size=args.batch_size)
    print(f"{args.records} records x 10 features, batch size {args.batch_size} rows per model call\n")
    print("| scenario | coalitions | background rows | synthetic rows | model calls | wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, (name, model, cfg, nb, ns) in enumerate(scenarios):
        s = len(coalitions(10, ns, 0)[0])
        t0 = time.perf_counter()
        res = baseline_attribution(Store(), [str(data)], str(tmp / f"out{i}"), model, cfg, opts)
        wall = time.perf_counter() - t0
        rows = nb + args.records + args.records * s * nb
        print(f"| {name} | {s} | {nb} | {rows:,} | {res.model_calls:,} | {wall:.2f} |")
    server.shutdown()


if __name__ == "__main__":
    main()
