"""One FinaliseQueue message (domain/messages.py): AKOOL's word on a job, applied by the finaliser
(flows/common/finaliser.py).

A job that is gone, or a message about another AKOOL job than the record's, is logged and dropped (there
is nothing to finalise). A job another finaliser holds comes back later (RetryLater): that holder may
have crashed, and its lease must lapse before this message can finish the job. So does a callback that
outran the submitter's SUBMITTED write (webhook.py: "early"): while the job is WAITING under a live
submission claim, its AKOOL `_id` is about to be recorded, and is compared once it is; with no live
claim, no submitter will record it, and the message is dropped (the job's next submit attempt, which
the reconciler's recheck starts, sends the swap again: AKOOL's 1005 or a second credit, as before).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from dropswap.domain import messages
from dropswap.domain.jobs import Status
from dropswap.domain.ports import JobReader
from dropswap.domain.redelivery import RetryLater
from dropswap.flows.common.finaliser import Action, Finaliser, Outcome

log = logging.getLogger(__name__)


def finalise_message(
    store: JobReader, finaliser: Finaliser, body: str, *, clock: Callable[[], float] = time.time
) -> Outcome | None:
    work = messages.parse_finalise_body(body)
    job = store.get(work.job_id)
    if job is None:
        log.warning("finalise message for an unknown job", extra={"job_id": work.job_id})
        return None
    if job.status is Status.WAITING and not job.akool_id and job.claim_live(clock()):
        raise RetryLater("AKOOL's callback came before the job's SUBMITTED record")
    if job.akool_id != work.truth.akool_id:
        log.warning("finalise message for another AKOOL job", extra={"job_id": job.job_id})
        return None
    outcome = finaliser.apply(job, work.truth, touch=work.touch)
    log.info(
        "finalised",
        extra={"job_id": job.job_id, "akool_status": work.truth.status, "source": work.truth.source,
               "action": outcome.action.value, "error": outcome.error},
    )
    if outcome.action is Action.BUSY:
        raise RetryLater("another finaliser holds the job")
    return outcome

