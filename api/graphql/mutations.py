"""Mutations: upload a recording, analyse a stored call again, delete a call; custom categories.

They take the same paths as REST (:mod:`api.submission`, the analysis service).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from api.graphql import categories as custom
from api.graphql import vocabularies as vocab
from api.graphql import webhooks as hooks
from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.inputs import AnalyzeOptionsInput, analysis_options
from api.graphql.types import Job, JobStatus
from api.graphql.uploads import earlier_status, upload_metadata
from api.submission import reanalyze, submit_upload
from core.access.auth import AccessRole
from core.errors import InvalidInputError, NotFoundError


@strawberry.type(description="A job that was just queued. Follow it with `jobProgress(jobId)`.")
class JobPayload:
    call_id: strawberry.ID = strawberry.field(description="The id the call will have.")
    job_id: strawberry.ID
    status: JobStatus = strawberry.field(description="The job's status when it was queued.")
    duplicate: bool = strawberry.field(
        default=False,
        description="True when nothing was queued: the same external_id or audio was already "
        "analysed or queued, and the ids are that call's and job's (`force: true` analyses "
        "again).",
    )

    @strawberry.field(description="The job as it is now.")
    async def job(self, info: Info) -> Job | None:
        try:
            job = await asyncio.to_thread(runtime_of(info).catalog.job, self.job_id)
        except NotFoundError:
            return None
        return Job.from_dict(job)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Upload a recording (a GraphQL multipart request) and queue its analysis. A file "
            "that is not audio is refused (`unsupported_audio`) and nothing is stored."
        )
    )
    async def analyze_call(
        self,
        info: Info,
        file: Upload,
        options: AnalyzeOptionsInput | None = None,
        agent: Annotated[
            str | None, strawberry.argument(description="The agent who handled the call.")
        ] = None,
        metadata: Annotated[
            JSON | None,
            strawberry.argument(
                description="The call's metadata: an object of agent, team, queue, "
                "direction, customer_id, external_id, started_at or keys of your own."
            ),
        ] = None,
        force: Annotated[
            bool,
            strawberry.argument(
                description="Analyse again even when the same external_id or audio was "
                "already analysed or queued."
            ),
        ] = False,
    ) -> JobPayload:
        principal = principal_of(info, AccessRole.ANALYST)
        if not isinstance(file, UploadFile):
            raise InvalidInputError(
                "`file` must be an uploaded file.",
                "Send a GraphQL multipart request (operations, map and the file as form fields).",
            )
        checked = upload_metadata(metadata, agent)
        submitted = await submit_upload(
            runtime_of(info),
            file,
            file.filename,
            analysis_options(options),
            principal=principal,
            metadata=checked,
            dedupe=not force,
        )
        handle = submitted.handle
        if submitted.event is not None:
            status = JobStatus(submitted.event.status)
        else:
            status = await earlier_status(info, handle.job_id)
        return JobPayload(
            call_id=strawberry.ID(handle.call_id),
            job_id=strawberry.ID(handle.job_id),
            status=status,
            duplicate=handle.duplicate,
        )

    @strawberry.mutation(
        description="Analyse a stored call's recording again; the new result replaces the old."
    )
    async def reanalyze_call(
        self, info: Info, id: strawberry.ID, options: AnalyzeOptionsInput | None = None
    ) -> JobPayload:
        principal = principal_of(info, AccessRole.ANALYST)
        handle = await reanalyze(
            runtime_of(info), id, analysis_options(options), principal=principal
        )
        return JobPayload(
            call_id=strawberry.ID(handle.call_id),
            job_id=strawberry.ID(handle.job_id),
            status=JobStatus.QUEUED,
        )

    @strawberry.mutation(
        description=(
            "Delete a call with its transcript, vectors, jobs and recording (admin role); "
            "its audit fields stay. False when there was no such call (or it was deleted)."
        )
    )
    async def delete_call(self, info: Info, id: strawberry.ID) -> bool:
        principal = principal_of(info, AccessRole.ADMIN)
        try:
            await asyncio.to_thread(runtime_of(info).service.delete_call, id, principal.actor)
        except NotFoundError:
            return False
        return True

    create_category: custom.Category = strawberry.mutation(
        resolver=custom.create_category,
        description="Create a custom category (analyst role); by default also apply it to "
        "every stored call.",
    )
    update_category: custom.Category = strawberry.mutation(
        resolver=custom.update_category,
        description="Replace a custom category's name, description and conditions (analyst "
        "role); by default also apply it again to every stored call.",
    )
    delete_category: bool = strawberry.mutation(
        resolver=custom.delete_category,
        description="Delete a custom category and its tags (admin role). False when there "
        "was no such category.",
    )
    create_vocabulary: vocab.Vocabulary = strawberry.mutation(
        resolver=vocab.create_vocabulary,
        description="Create a custom vocabulary (analyst role): terms for the ASR stage and "
        "replacements, for every call or one team's; used by the calls analysed from now on.",
    )
    update_vocabulary: vocab.Vocabulary = strawberry.mutation(
        resolver=vocab.update_vocabulary,
        description="Replace a custom vocabulary (analyst role).",
    )
    delete_vocabulary: bool = strawberry.mutation(
        resolver=vocab.delete_vocabulary,
        description="Delete a custom vocabulary (admin role). False when there was none.",
    )
    create_webhook: hooks.NewWebhook = strawberry.mutation(
        resolver=hooks.create_webhook,
        description="Add a webhook (admin role); the answer holds its secret, shown once.",
    )
    delete_webhook: bool = strawberry.mutation(
        resolver=hooks.delete_webhook,
        description="Remove a webhook and its delivery log (admin role). False when there "
        "was no such webhook.",
    )
    apply_category: custom.ApplyResult = strawberry.mutation(
        resolver=custom.apply_category,
        description="Evaluate a custom category over every stored call and replace its tags "
        "(analyst role; scans every call).",
    )
