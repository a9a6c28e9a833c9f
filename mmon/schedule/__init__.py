"""Schedules: SageMaker schedule expressions, execution windows, report folders, execution records,
and ready-to-install crontab / systemd / Kubernetes entries (``mmon schedule-print``, ``mmon executions``)."""

from mmon.schedule.executions import (
    ExecutionInProgress,
    ExecutionLock,
    begin_execution,
    finish_execution,
    list_executions,
)
from mmon.schedule.expressions import Schedule, next_times, parse_schedule, previous_time
from mmon.schedule.window import (
    Execution,
    execution_window,
    parse_scheduled_time,
    report_prefix,
    resolve_execution,
)

__all__ = [
    "Execution",
    "ExecutionInProgress",
    "ExecutionLock",
    "Schedule",
    "begin_execution",
    "execution_window",
    "finish_execution",
    "list_executions",
    "next_times",
    "parse_schedule",
    "parse_scheduled_time",
    "previous_time",
    "report_prefix",
    "resolve_execution",
]
