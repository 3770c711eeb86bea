"""Rules of tracked jobs (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, PermissionDenied, ValidationFailed


class UnknownTask(ValidationFailed):
    """No task is registered under this name."""

    code = "unknown_task"


class SecretInJobParameters(ValidationFailed):
    """A job parameter looks like a secret (a password, a token); jobs store their parameters
    readably, so pass an id and let the task look the secret up."""

    code = "secret_in_job_parameters"


class JobParametersNotJson(ValidationFailed):
    """Job parameters must be JSON values: ids, not objects."""

    code = "job_parameters_not_json"


class JobNotFailed(Conflict):
    """Only a Failed job can be retried."""

    code = "job_not_failed"


class JobOutOfRetries(Conflict):
    """The job has used all its attempts; start a new job instead."""

    code = "job_out_of_retries"


class DuplicateJob(Conflict):
    """Another job with the same deduplication key is queued or running already."""

    code = "duplicate_job"


class JobChangedMeanwhile(Conflict):
    """The job changed while the request looked at it (a worker picked it up); look again."""

    code = "job_changed_meanwhile"


class JobNotQueued(Conflict):
    """Only a job that has not ended (Queued or Running) can be cancelled."""

    code = "job_not_queued"


class RunningJobCancelForAdministrators(PermissionDenied):
    """Only an administrator may cancel a Running job (its owner may cancel it while Queued)."""

    code = "running_job_cancel_for_administrators"
