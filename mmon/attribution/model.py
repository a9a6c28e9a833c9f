"""How mmon calls the model: a Python callable, an HTTP endpoint, or attributions already in the data.

``MODEL`` specs (``--model``):

- ``package.module:predict`` or ``path/to/file.py:predict`` — a Python callable that takes a 2-D
  numpy array (float64 when every feature is numeric, else object) and returns one prediction per
  row (a 1-D array, or 2-D with one column per model output);
- ``http://HOST:PORT/path`` (or ``https://``) — an endpoint that answers like a SageMaker endpoint:
  CSV rows in (``text/csv``, no header) and one CSV line per row out, or JSON Lines in
  (``application/jsonlines``, each line ``{"features": [...]}`` or the predictor's
  ``content_template``) and JSON Lines / JSON out;
- ``columns:PREFIX`` — no model is called: the data already carries each row's attribution of
  feature ``F`` in column ``PREFIX + F`` (see :mod:`mmon.attribution.explain`).

Every model call has a deadline (``timeout``): an HTTP request is sent with a socket timeout, a
Python callable runs in a daemon worker thread that is abandoned when it does not return in time
(Python cannot interrupt a thread; the process still exits normally). Failures become one-line
errors naming the model and the batch: :class:`ModelError` (exit 2: the model raised or answered
something unusable) or :class:`ModelUnavailable` (exit 3: unreachable, timed out, HTTP 5xx).
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import math
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmon.errors import InputError, StorageError
from mmon.scripts import load_script

CSV = "text/csv"
JSONLINES = "application/jsonlines"
JSON = "application/json"
DEFAULT_TEMPLATE = '{"features":$features}'
# Keys tried, in order, when a JSON answer is an object and the predictor names no "probability".
_SCORE_KEYS = (
    "score",
    "probability",
    "probabilities",
    "predicted_label",
    "prediction",
    "predictions",
    "label",
)


class ModelError(InputError):
    """The model raised, or answered something mmon cannot use (exit 2)."""


class ModelUnavailable(StorageError):
    """The model could not be reached or did not answer in time (exit 3)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return msg if len(msg) <= 300 else msg[:297] + "..."


@dataclass
class Model:
    """Base class: ``predict(rows, batch_label)`` returns an (n, D) float array."""

    spec: str
    timeout: float = 60.0
    calls: int = field(default=0, init=False)

    needs_calls = True

    def predict(self, rows: np.ndarray, where: str = "") -> np.ndarray:
        self.calls += 1
        raw = self._predict(rows, where)
        return self._as_matrix(raw, len(rows), where)

    def _predict(self, rows: np.ndarray, where: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _as_matrix(self, raw: Any, n: int, where: str) -> np.ndarray:
        try:
            out = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(
                f"model {self.spec}: {where}: the predictions are not numbers ({_first_line(exc)})"
            ) from exc
        if out.ndim == 0:
            out = out.reshape(1)
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        if out.ndim != 2 or out.shape[0] != n:
            raise ModelError(
                f"model {self.spec}: {where}: expected {n} predictions (one per row), got an array of shape {tuple(out.shape)}"
            )
        bad = ~np.isfinite(out)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise ModelError(
                f"model {self.spec}: {where}: prediction for row {row + 1} of the batch is {out[row].tolist()}"
            )
        return out


# -- Python callables -------------------------------------------------------------------------------


def _import_callable(spec: str) -> Callable[[Any], Any]:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise InputError(
            f"--model {spec!r}: expected package.module:function, path/to/file.py:function or http://…"
        )
    try:
        if target.endswith(".py") or os.sep in target or "/" in target:
            path = os.path.abspath(target)
            if not os.path.isfile(path):
                raise InputError(f"--model {spec!r}: {target}: no such file")
            name = "mmon_model_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
            with open(path, "rb") as f:
                module = load_script(f.read(), path, name)
        else:
            if os.getcwd() not in sys.path:
                sys.path.append(os.getcwd())
            module = importlib.import_module(target)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's model, one line
        raise InputError(f"--model {spec!r}: cannot import {target}: {_first_line(exc)}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise InputError(f"--model {spec!r}: {target} has no attribute {attr!r}") from exc
    if not callable(obj):
        raise InputError(f"--model {spec!r}: {attr} is not callable")
    return obj


@dataclass
class CallableModel(Model):
    fn: Callable[[Any], Any] | None = None

    def _predict(self, rows: np.ndarray, where: str) -> Any:
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = self.fn(rows)  # type: ignore[misc]
            except BaseException as exc:  # noqa: BLE001 - reported in the caller's thread
                box["exc"] = exc

        worker = threading.Thread(target=target, name="mmon-model-call", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise ModelUnavailable(
                f"model {self.spec}: {where}: no answer within {self.timeout:g} s (--timeout)"
            )
        if "exc" in box:
            raise ModelError(f"model {self.spec}: {where}: {_first_line(box['exc'])}") from box["exc"]
        return box.get("out")


# -- HTTP endpoints -----------------------------------------------------------------------------------


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):  # numpy 2's repr(np.float64) is "np.float64(…)"
        return "" if math.isnan(float(v)) else repr(float(v))
    if isinstance(v, np.integer):
        return str(int(v))
    return str(v)


def _json_value(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _pick(obj: Any, key: str | None) -> Any:
    """The prediction inside one JSON answer: a number, a list, or an object's (dotted) key."""
    if isinstance(obj, dict):
        if key:
            cur: Any = obj
            for part in key.split("."):
                if not isinstance(cur, dict) or part not in cur:
                    raise KeyError(f"no key {key!r} in the answer {json.dumps(obj)[:120]}")
                cur = cur[part]
            return cur
        for k in _SCORE_KEYS:
            if k in obj:
                return obj[k]
        raise KeyError(f"cannot find a prediction in {json.dumps(obj)[:120]}; set predictor.probability")
    return obj


@dataclass
class HttpModel(Model):
    content_type: str = CSV
    accept_type: str | None = None
    probability: str | None = None
    content_template: str = DEFAULT_TEMPLATE

    def _body(self, rows: np.ndarray) -> bytes:
        if self.content_type == CSV:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for row in rows:
                w.writerow([_text(v) for v in row])
            return buf.getvalue().encode("utf-8")
        lines = []
        for row in rows:
            feats = json.dumps([_json_value(v) for v in row], separators=(",", ":"))
            lines.append(self.content_template.replace("$features", feats))
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _parse(self, text: str, ctype: str) -> list[Any]:
        ctype = (ctype or "").split(";")[0].strip().lower()
        stripped = text.strip()
        if ctype == JSON or (ctype not in (CSV, JSONLINES, "text/plain") and stripped.startswith(("{", "["))):
            doc = json.loads(stripped)
            if isinstance(doc, dict):
                doc = _pick(doc, None) if self.probability is None else _pick(doc, self.probability)
            if not isinstance(doc, list):
                doc = [doc]
            return [_pick(item, self.probability) for item in doc]
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        if ctype == JSONLINES or (lines and lines[0].lstrip().startswith(("{", "["))):
            return [_pick(json.loads(ln), self.probability) for ln in lines]
        return [[float(x) for x in next(csv.reader([ln]))] for ln in lines]

    def _predict(self, rows: np.ndarray, where: str) -> Any:
        req = urllib.request.Request(
            self.spec,
            data=self._body(rows),
            method="POST",
            headers={"Content-Type": self.content_type, "Accept": self.accept_type or self.content_type},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text = resp.read().decode("utf-8")
                ctype = resp.headers.get("Content-Type", "") or (self.accept_type or "")
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read().decode("utf-8", "replace").strip().splitlines()
            except Exception:  # noqa: BLE001
                detail = []
            msg = f"model {self.spec}: {where}: HTTP {exc.code}" + (f": {detail[0][:200]}" if detail else "")
            if exc.code >= 500:
                raise ModelUnavailable(msg) from exc
            raise ModelError(msg) from exc
        except TimeoutError as exc:
            raise ModelUnavailable(
                f"model {self.spec}: {where}: no answer within {self.timeout:g} s (--timeout)"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ModelUnavailable(
                    f"model {self.spec}: {where}: no answer within {self.timeout:g} s (--timeout)"
                ) from exc
            raise ModelUnavailable(
                f"model {self.spec}: {where}: cannot reach the endpoint ({exc.reason})"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"model {self.spec}: {where}: {_first_line(exc)}") from exc
        try:
            return self._parse(text, ctype)
        except (ValueError, KeyError, StopIteration) as exc:
            raise ModelError(
                f"model {self.spec}: {where}: cannot read the answer: {_first_line(exc)}"
            ) from exc


# -- attributions already in the data ----------------------------------------------------------------


@dataclass
class ColumnsModel(Model):
    prefix: str = ""

    needs_calls = False

    def _predict(self, rows: np.ndarray, where: str) -> Any:
        raise ModelError(f"model {self.spec}: attributions are read from the data; there is no model to call")


def load_model(
    spec: str,
    timeout: float = 60.0,
    content_type: str | None = None,
    accept_type: str | None = None,
    probability: str | None = None,
    content_template: str | None = None,
) -> Model:
    """Resolve a ``--model`` spec (see the module docstring). Imports a callable eagerly."""
    if not spec or not spec.strip():
        raise InputError("--model: empty model spec")
    if timeout is None or not timeout > 0:
        raise InputError(f"--timeout {timeout!r}: expected a positive number of seconds")
    if spec.startswith("columns:"):
        prefix = spec[len("columns:") :]
        if not prefix:
            raise InputError("--model columns:PREFIX: the prefix is empty")
        return ColumnsModel(spec, timeout, prefix=prefix)
    if spec.startswith(("http://", "https://")):
        ct = (content_type or CSV).lower()
        if ct in ("jsonlines", "application/json-lines", "application/x-jsonlines"):
            ct = JSONLINES
        if ct not in (CSV, JSONLINES):
            raise InputError(f"--content-type {content_type!r}: expected text/csv or application/jsonlines")
        template = content_template or DEFAULT_TEMPLATE
        if ct == JSONLINES and "$features" not in template:
            raise InputError(f"content_template {template!r}: must contain $features")
        return HttpModel(
            spec,
            timeout,
            content_type=ct,
            accept_type=accept_type,
            probability=probability,
            content_template=template,
        )
    return CallableModel(spec, timeout, fn=_import_callable(spec))
