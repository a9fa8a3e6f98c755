"""Domain errors. Adapters raise these; the API and the CLI map them to 4xx/5xx and exit codes."""

from __future__ import annotations


class CallyticsError(Exception):
    """Base class. ``hint`` says what the user can do about it."""

    code = "error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class InvalidInputError(CallyticsError):
    """The user's input cannot be processed (bad file, bad option). HTTP 4xx, CLI exit 2."""

    code = "invalid_input"


class UnsupportedAudioError(InvalidInputError):
    code = "unsupported_audio"


class AudioTooLongError(InvalidInputError):
    code = "audio_too_long"


class ModelNotFoundError(CallyticsError):
    """A model name or path cannot be resolved offline."""

    code = "model_not_found"


class StageError(CallyticsError):
    """A stage failed while processing (model crash, remote stage down)."""

    code = "stage_failed"

    def __init__(self, stage: str, message: str, hint: str = "") -> None:
        super().__init__(f"{stage}: {message}", hint)
        self.stage = stage


class NotFoundError(CallyticsError):
    code = "not_found"


class StageUnavailableError(StageError):
    """A remote stage cannot be reached (down, circuit open, deadline passed)."""

    code = "stage_unavailable"


class JobDeferred(CallyticsError):
    """A job could not run now (a stage was unavailable) and was queued again.

    The job queue runs it again after ``delay_s``; the job row says why and which attempt.
    """

    code = "job_deferred"

    def __init__(self, job_id: str, delay_s: float, reason: str) -> None:
        super().__init__(f"job {job_id} deferred {delay_s:.0f} s: {reason}")
        self.job_id = job_id
        self.delay_s = delay_s


class UnauthorizedError(CallyticsError):
    """No credentials, or credentials that are not valid (unknown, revoked, expired)."""

    code = "unauthorized"


class ForbiddenError(CallyticsError):
    """Valid credentials whose role does not allow the action."""

    code = "forbidden"


class RateLimitedError(CallyticsError):
    """Too many requests of one kind from one principal; try again after ``retry_after_s``."""

    code = "rate_limited"

    def __init__(self, message: str, hint: str = "", *, retry_after_s: float = 1.0) -> None:
        super().__init__(message, hint)
        self.retry_after_s = retry_after_s


class StorageFullError(CallyticsError):
    """The disk that holds audio or the database has no room left; nothing was kept."""

    code = "storage_full"


class GoneError(NotFoundError):
    """The thing existed and was deleted (the audit trail says by whom and when)."""

    code = "gone"


class DatabaseUnavailableError(CallyticsError):
    """The database server cannot be reached (down, restarting): the unit of work failed
    and nothing of it was kept. HTTP 503; a job meeting it is queued again."""

    code = "database_unavailable"
