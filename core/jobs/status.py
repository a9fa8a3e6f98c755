"""A job's status names: the states a job row moves through."""

from __future__ import annotations

from typing import Literal, get_args

JobStatusName = Literal["queued", "running", "succeeded", "failed"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatusName)
TERMINAL_STATUSES = frozenset({"succeeded", "failed"})
