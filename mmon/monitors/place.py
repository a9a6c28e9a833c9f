"""Where a run reads its data and publishes its report: the keywords every ``run_*`` shares.

``run_bias``, ``run_attribution``, ``run_model_quality`` and ``run_data_quality`` take them as
``**where: Unpack[Where]`` (or a ``TypedDict`` that extends it), so callers still name them one by
one (``fmt="csv"``) and mypy checks each; ``RunRequest.where()`` hands a request's on in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict


class Where(TypedDict, total=False):
    fmt: str | None  # the data's format (None: from the file names)
    header: bool  # CSV with a header line (default True)
    endpoint: str | None  # CloudWatch/Prometheus dimensions
    schedule: str | None
    metric_time: str | None  # the metrics' timestamp (default: now)
    # runs after every body is encoded and before the first write (a scheduled run re-checks its lock)
    before_publish: Callable[[], None] | None
