"""What the holder of a job's submission claim does with it (submitter.py takes the claim first).

- `submit`: check each input's bytes (input_gate.check_contents), stage pinned copies of them and presign
  those (staging.py), plan (the photo's faces, then every source's, detected first, each once: the job
  keeps its detections, and source versions share theirs: detections.py) and send the swap
  (akool_swap.py), record SUBMITTED with the hash of the webhook token; a bad input found on the way →
  REJECTED, a final AKOOL refusal → FAILED, a retryable one (or an input replaced meanwhile) is raised
  (the claim is given back, job_end.under_claim). A folder manifest's job whose photo has got a sidecar
  of its own by the time of its swap is closed as superseded instead (the sidecar wins);
- the credit budget (credit_budget.py): the swap's credits are counted right before AKOOL's swap call; a
  job they do not fit waits (`wait_for_credit`: WAITING for "credit budget", its report, a `Job Waiting`
  event, the claim given back; the reconciler rechecks it once the budget has room), and the credits of a
  call AKOOL refused before accepting it are given back;
- `faces_only` (`"mode": "faces"`): detect and write the faces and their preview (faces_mode.py), then
  SUCCEEDED at once; no swap is sent, so no AKOOL slot is taken;
- `reject` / `fail` / `close_superseded`: end the job (job_end.py), with its report except for a
  superseded job, whose report name belongs to the newer sidecar's job.
- the live report (report.py), written on a state change only, under the claim: QUEUED on the job's first
  claim (or when it leaves a wait for an AKOOL slot or the credit budget), WAITING for "AKOOL slot" once
  when no slot came free (`wait_for_slot`, and a lost race for one at `take`), PROCESSING with the
  `Job Submitted` event once AKOOL accepted the swap: before the SUBMITTED record, as the finaliser waits
  for that record (finalise.py), so a later report never comes before it.
- the webhook's token: its hash goes on the record right before the swap is sent (`_arm`), so AKOOL's
  callback is verified even when it outruns the SUBMITTED write (webhook.py: "early").
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from dropswap.domain import credits, detections, keys, tokens
from dropswap.domain.akool import AkoolError
from dropswap.domain.detections import Detections, ImageRef
from dropswap.domain.error_codes import ErrorCode, akool_refusal, job_error
from dropswap.domain.faces import FaceSelectionError
from dropswap.domain.job_events import submitted_event, waiting_event
from dropswap.domain.jobs import AKOOL_SLOT, Job, JobRef, Status, iso_time
from dropswap.domain.latest import superseded_by
from dropswap.domain.manifest import Manifest, ManifestError
from dropswap.domain.planning import Plan
from dropswap.domain.ports import (
    DetectionCache,
    InputContent,
    InputReader,
    JobEvents,
    JobTransitions,
    ResultsFolder,
    Staging,
    SubmitClaims,
    SwapApi,
)
from dropswap.domain.report import expires_at, processing_report, queued_report, waiting_report
from dropswap.flows.common.credit_budget import CreditBudget
from dropswap.flows.common.job_end import Hold, end_job, publish_report
from dropswap.flows.common.pacing import NoRoom, Pacer
from dropswap.flows.submit import akool_swap, faces_mode, input_gate, staging
from dropswap.settings import Settings

log = logging.getLogger(__name__)

# What happened to one job for one event (the handler turns these into metrics).
OutcomeKind = Literal[
    "SUBMITTED", "SUCCEEDED", "REJECTED", "WAITING", "OVER_BUDGET", "FAILED", "DUPLICATE", "BUSY", "IGNORED"
]

InputError = ManifestError | FaceSelectionError


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    key: str
    job_id: str | None = None
    detail: str = ""


class SubmitObjects(InputReader, InputContent, Staging, ResultsFolder, faces_mode.PreviewFiles, Protocol): ...


class HolderStore(JobTransitions, SubmitClaims, Protocol): ...


class Submission:
    def __init__(
        self,
        store: HolderStore,
        objects: SubmitObjects,
        akool: Callable[[], SwapApi],
        settings: Settings,
        *,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = tokens.new_token,
        events: JobEvents | None = None,
        budget: CreditBudget | None = None,
        cache: DetectionCache | None = None,
    ) -> None:
        self._store = store
        self._objects = objects
        self._events = events
        self._cache = cache  # faces per source version, shared by every job (detections.py)
        self._pacer = pacer or Pacer.unlimited()
        self._budget = budget or CreditBudget.uncounted()
        # Built on first need: a rejected manifest never reads the AKOOL secret.
        self._akool_factory = akool
        self._akool: SwapApi | None = None
        self._settings = settings
        self._clock = clock
        self._new_token = new_token

    def submit(self, ref: JobRef, job: Job, hold: Hold, manifest: Manifest) -> Outcome:
        job = self._show_queued(ref, job, hold)
        if manifest.mode == "faces":
            return self.faces_only(ref, job, hold)
        s = self._settings
        plan: Plan | None = None
        detector: akool_swap.Detector | None = None
        try:
            # Nothing goes to AKOOL (not even the secret is read) before every input's bytes pass.
            checked = input_gate.check_contents(
                self._objects, input_gate.inputs(ref, manifest),
                max_image_bytes=s.max_image_bytes, max_image_pixels=s.max_image_pixels,
                versions={(ref.bucket, ref.image_key): ref.image_version} if ref.image_version else None,
            )
            staged = staging.stage(self._objects, ref.job_id, checked, s.presign_ttl_seconds)
            image_url = staged[(ref.bucket, ref.image_key)]
            akool = self._client()
            detector = akool_swap.Detector(akool, Detections.from_json(job.detections_json), self._cache)
            plan = self._plan(ref, hold, detector, manifest, image_url, _sources(manifest, staged, checked))
            # The slot is taken only now, with the plan ready: AKOOL's slot is not idle while we detect.
            try:
                self._pacer.take(ref.job_id)
            except NoRoom:
                self._show_waiting_for_slot(ref, job, hold)
                raise
            token = self._new_token()
            armed = self._arm(ref, job, hold, token)
            if armed is None:
                return Outcome("DUPLICATE", ref.sidecar_key, ref.job_id, "claim lost before submit")
            job = armed
            if not self._still_the_photos_job(ref):
                return self.close_superseded(ref, job, hold)
            # The credit gate: counted now, right before the call that spends it (never over the budget).
            charge = self._budget.spend()
            if charge is None:
                self._pacer.release(ref.job_id)
                return self.wait_for_credit(ref, job, hold)
            try:
                result = akool_swap.send(
                    akool, plan, image_url, face_enhance=manifest.face_enhance,
                    webhook_url=self._webhook_url(ref, token),
                )
            except BaseException as exc:
                # Not accepted (or, after a timeout, maybe accepted: AKOOL's 1005 is the backstop).
                self._pacer.release(ref.job_id)
                if isinstance(exc, AkoolError) and credits.refused_before_acceptance(exc):
                    self._budget.refund(charge)  # AKOOL took no credit; unsure: it stays counted
                raise
        except (ManifestError, FaceSelectionError) as exc:
            return self.reject(ref, job, hold, exc, akool=_detect_cost(detector))
        except AkoolError as exc:
            if exc.retryable:
                if plan is not None:
                    log.warning(
                        "AKOOL submit failed, will retry", extra={"job_id": ref.job_id, "code": exc.code}
                    )
                raise
            return self.fail(ref, job, hold, exc, engine=plan.engine if plan else None)

        submitted_at = self._now()
        accepted: dict[str, Any] = {
            "engine": plan.engine,
            "akool_id": result.akool_id,
            "akool_job_id": result.akool_job_id,
            "submitted_at": submitted_at,
            "request_summary": plan.request_summary(manifest.face_enhance),
        }
        self._show_processing(replace(job, **accepted), submitted_at)
        res = self._store.transition(
            ref.job_id,
            Status.SUBMITTED,
            set_fields={**ref.fields(), **accepted, "token_hash": tokens.hash_token(token)},
            expect_owner=hold.owner,
        )
        if not res.applied:
            # Only possible if our lease lapsed and another delivery took the job over.
            log.error(
                "submitted to AKOOL but lost the claim",
                extra={"job_id": ref.job_id, "akool_id": result.akool_id},
            )
            return Outcome("DUPLICATE", ref.sidecar_key, ref.job_id, "claim lost after submit")
        log.info(
            "job submitted",
            extra={
                "job_id": ref.job_id,
                "akool_id": result.akool_id,
                "engine": plan.engine,
                "pairs": len(plan.targets),
            },
        )
        return Outcome("SUBMITTED", ref.sidecar_key, ref.job_id, plan.engine)

    def wait_for_credit(self, ref: JobRef, job: Job, hold: Hold) -> Outcome:
        """Hold the job back for the credit budget: its WAITING report and (once per job) its `Job Waiting`
        event, then WAITING for "credit budget" and the claim given back. The reconciler's recheck brings
        it back once the budget has room (reconcile.py)."""
        state = self._budget.state()
        first = job.waiting_for != credits.CREDIT_BUDGET
        if first:
            # Report and event before the record (as job_end does): a crash in between is repaired by the
            # retry, which writes them again (the event under the same id).
            # No deadline: the reconciler never gives up on a budget wait (reconcile.py); the budget's
            # `resets_at` says when it may go on.
            report = waiting_report(
                job, credits.CREDIT_BUDGET, expires_at=None, extra={"budget": state.as_dict()}
            )
            publish_report(self._objects, ref.image_key, Status.WAITING, report)
            bus = self._events  # the JobEvents port (not a boto3 client)
            if bus is not None:
                bus.publish(*waiting_event(
                    job, at=self._now(), waiting_for=credits.CREDIT_BUDGET, budget=state.as_dict()
                ))
        # Also for a job already waiting: its claim moved it into the input waits' part of the open-jobs
        # index, and this puts it back with the budget's (job_store.py).
        res = self._store.transition(
            ref.job_id, Status.WAITING,
            set_fields={**ref.fields(), "waiting_for": credits.CREDIT_BUDGET}, expect_owner=hold.owner,
        )
        if res.applied:
            self._store.release(ref.job_id, hold.owner)
        log.warning(
            "job waiting for the credit budget",
            extra={"job_id": ref.job_id, "spent": state.spent, "per_day": state.per_day, "day": state.day},
        )
        return Outcome("OVER_BUDGET", ref.sidecar_key, ref.job_id, credits.CREDIT_BUDGET)

    def wait_for_slot(self, ref: JobRef, job: Job, hold: Hold) -> Outcome:
        """Every AKOOL slot is in use (the submitter's look before the claim): show it (once per job), then
        NoRoom, so the claim is given back (job_end.under_claim) and the message comes back shortly."""
        self._show_waiting_for_slot(ref, job, hold)
        raise NoRoom("every AKOOL slot is in use")

    def faces_only(self, ref: JobRef, job: Job, hold: Hold) -> Outcome:
        try:
            found = faces_mode.detect_and_preview(
                self._client(), self._objects, ref, presign_ttl=self._settings.presign_ttl_seconds,
                max_image_bytes=self._settings.max_image_bytes,
            )
        except (ManifestError, FaceSelectionError) as exc:
            return self.reject(ref, job, hold, exc)
        except AkoolError as exc:
            if exc.retryable:
                raise
            return self.fail(ref, job, hold, exc, engine=None)
        summary = found.summary()
        # A SUCCEEDED report keeps the swapped image beside it (job_end.publish_report), but this job made
        # none: one there is an older job's, and must not look like this job's result.
        self._objects.delete(keys.result_image_key(ref.image_key))
        res = end_job(
            self._store, self._objects, replace(job, request_summary=summary), Status.SUCCEEDED, hold,
            finished_at=self._now(), result_key=found.preview_key,
            fields={**ref.fields(), "request_summary": summary}, events=self._events,
        )
        log.info(
            "faces found", extra={"job_id": ref.job_id, "faces": len(found.faces), "applied": res.applied}
        )
        return Outcome("SUCCEEDED", ref.sidecar_key, ref.job_id, f"{len(found.faces)} faces")

    def reject(
        self, ref: JobRef, job: Job, hold: Hold, exc: InputError, akool: dict[str, Any] | None = None
    ) -> Outcome:
        """`akool`: what the report's `akool` says (the detection it took to find the problem)."""
        res = end_job(
            self._store, self._objects, job, Status.REJECTED, hold,
            finished_at=self._now(), error=job_error(exc.code, str(exc)), akool=akool, fields=ref.fields(),
            events=self._events,
        )
        log.info(
            "job rejected",
            extra={"job_id": ref.job_id, "code": exc.code, "field": exc.field, "applied": res.applied},
        )
        return Outcome("REJECTED", ref.sidecar_key, ref.job_id, str(exc))

    def fail(self, ref: JobRef, job: Job, hold: Hold, exc: AkoolError, engine: str | None) -> Outcome:
        error = job_error(akool_refusal(exc.code), exc.message)
        akool: dict[str, Any] = {"code": exc.code} if exc.code is not None else {}
        if engine:
            akool["engine"] = engine
        end_job(
            self._store, self._objects, job, Status.FAILED, hold, finished_at=self._now(), error=error,
            akool=akool, fields={**ref.fields(), "engine": engine} if engine else ref.fields(),
            events=self._events,
        )
        log.warning("job failed at submit", extra={"job_id": ref.job_id, "code": exc.code})
        return Outcome("FAILED", ref.sidecar_key, ref.job_id, error["message"])

    def close_superseded(self, ref: JobRef, job: Job, hold: Hold) -> Outcome:
        error = job_error(
            ErrorCode.SUPERSEDED, "a newer version of the sidecar or the photo replaced this one"
        )
        end_job(
            self._store, self._objects, job, Status.REJECTED, hold, finished_at=self._now(), error=error,
            report=False,
        )
        return Outcome("IGNORED", ref.sidecar_key, ref.job_id, "superseded")

    # -- live report (report.py) ----------------------------------------------------------------
    def _show_queued(self, ref: JobRef, job: Job, hold: Hold) -> Job:
        """QUEUED on the job's first claim (the submit flow has just read its manifest and photo, so it is
        the latest job of the photo), or when it leaves a wait for an AKOOL slot or the credit budget:
        that marker goes, so the next retry writes nothing. A job WAITING for an AKOOL slot stays so until it
        takes one (_arm): it is prepared again on each retry before it looks, and a QUEUED in
        between would be two writes per retry. The job as the rest of the work sees it."""
        if job.waiting_for == AKOOL_SLOT:
            return job
        leaving = job.waiting_for == credits.CREDIT_BUDGET
        if job.attempts > 1 and not leaving:
            return job  # a retry: its report already says QUEUED (or what came after)
        publish_report(self._objects, ref.image_key, Status.WAITING, queued_report(job, at=self._now()))
        if not leaving:
            return job
        self._store.transition(
            ref.job_id, Status.WAITING, set_fields={"waiting_for": None}, expect_owner=hold.owner
        )
        return replace(job, waiting_for=None)

    def _arm(self, ref: JobRef, job: Job, hold: Hold, token: str) -> Job | None:
        """Right before the swap is sent, its slot taken: one write puts this attempt's token hash on the
        record, so AKOOL's callback is verified even if it outruns the SUBMITTED write (webhook.py:
        "early"; AKOOL's retries are undocumented, and a refused callback would wait for the reconciler),
        and drops the marker of a job that waited for a slot (next report: PROCESSING). None when the claim
        was lost meanwhile: nothing is sent. The slot is given back unless the swap goes on."""
        token_hash = tokens.hash_token(token)
        fields: dict[str, Any] = {"token_hash": token_hash}
        if job.waiting_for == AKOOL_SLOT:
            fields["waiting_for"] = None
        try:
            res = self._store.transition(
                ref.job_id, Status.WAITING, set_fields=fields, expect_owner=hold.owner
            )
        except BaseException:
            self._pacer.release(ref.job_id)
            raise
        if not res.applied:
            self._pacer.release(ref.job_id)
            log.warning("lost the claim before the swap was sent", extra={"job_id": ref.job_id})
            return None
        return replace(job, waiting_for=None, token_hash=token_hash)

    def _show_waiting_for_slot(self, ref: JobRef, job: Job, hold: Hold) -> None:
        """WAITING for "AKOOL slot", once per job: report first, then the record's marker (a crash in
        between is repaired by the retry, which finds no marker and writes both again)."""
        if job.waiting_for == AKOOL_SLOT:
            return
        # What ends this wait: the reconciler rejects a job still WAITING `max_waiting_age_seconds` after its
        # record was made (reconcile.py), whatever it waits for but the credit budget.
        until = expires_at(job.created_at, self._settings.max_waiting_age_seconds)
        # The take may have waited 20 s after the preparation: a newer sidecar or photo that came meanwhile
        # owns the report's name (latest.py), and publish_report would also remove its swapped image.
        if superseded_by(self._objects, job) is None:
            report = waiting_report(job, AKOOL_SLOT, expires_at=until)
            publish_report(self._objects, ref.image_key, Status.WAITING, report)
        self._store.transition(
            ref.job_id, Status.WAITING, set_fields={**ref.fields(), "waiting_for": AKOOL_SLOT},
            expect_owner=hold.owner,
        )
        log.info("job waiting for an AKOOL slot", extra={"job_id": ref.job_id})

    def _show_processing(self, job: Job, submitted_at: str) -> None:
        """PROCESSING and the `Job Submitted` event, unless a newer sidecar or photo came meanwhile (its job
        owns the report's name: latest.py). AKOOL has the job now: a failure here is logged, never raised,
        since a retry would send the swap again."""
        try:
            if superseded_by(self._objects, job) is not None:
                return
            publish_report(
                self._objects, job.image_key, Status.PROCESSING,
                processing_report(job, submitted_at=submitted_at),
            )
            bus = self._events  # the JobEvents port (not a boto3 client)
            if bus is not None:
                bus.publish(*submitted_event(job, at=submitted_at))
        except Exception:
            log.exception("could not show the job as PROCESSING", extra={"job_id": job.job_id})

    # -- helpers -------------------------------------------------------------------------------
    def _client(self) -> SwapApi:
        if self._akool is None:
            self._akool = self._akool_factory()
        return self._akool

    def _plan(
        self, ref: JobRef, hold: Hold, detector: akool_swap.Detector, manifest: Manifest, image_url: str,
        sources: dict[int, ImageRef],
    ) -> Plan:
        """Detect and plan; what was detected is kept on the job (under its claim) before anything can
        send the job back to the queue (no slot, AKOOL busy, a retryable detect error): its retry asks
        AKOOL's detector nothing again."""
        try:
            plan = akool_swap.plan_swap(detector, manifest, detections.photo(image_url), sources)
        except AkoolError:
            with contextlib.suppress(Exception):  # the AKOOL error is the one to report
                self._keep_detections(ref, hold, detector)
            raise
        self._keep_detections(ref, hold, detector)
        return plan

    def _keep_detections(self, ref: JobRef, hold: Hold, detector: akool_swap.Detector) -> None:
        kept = detector.kept.to_json() if detector.changed else None
        if kept is None:
            return  # nothing new, or too large to keep (the retry detects again)
        # WAITING → WAITING, only while this holder holds the claim (a refusal means it lost it, and the
        # SUBMITTED write will find that out).
        self._store.transition(
            ref.job_id, Status.WAITING, set_fields={"detections_json": kept}, expect_owner=hold.owner
        )

    def _still_the_photos_job(self, ref: JobRef) -> bool:
        """Right before a folder manifest's job is counted and sent (its slot held): False when the photo's
        own sidecar has come since the job was made (uploaded with the photo, its event not handled yet),
        which wins (README: Folder manifest). The slot is given back then, or if the look fails."""
        if not keys.is_folder_manifest(ref.sidecar_key):
            return True
        try:
            own = self._objects.head(keys.sidecar_key_for_image(ref.image_key))
        except BaseException:
            self._pacer.release(ref.job_id)
            raise
        if own is None:
            return True
        self._pacer.release(ref.job_id)
        log.info("folder job: the photo's own sidecar came, it wins", extra={"job_id": ref.job_id})
        return False

    def _webhook_url(self, ref: JobRef, token: str) -> str:
        return f"{self._settings.webhook_base_url}/webhooks/akool/{ref.job_id}?token={token}"

    def _now(self) -> str:
        return iso_time(self._clock())


def _sources(
    manifest: Manifest, staged: dict[tuple[str, str], str], checked: list[input_gate.CheckedInput]
) -> dict[int, ImageRef]:
    """Each swap's source as the detector is asked about it: an S3 source by its staged copy's URL and the
    version checked (detections are shared per version), an https URL as the manifest gives it."""
    etags = {(c.item.bucket, c.item.key): c.etag for c in checked}
    out: dict[int, ImageRef] = {}
    for swap in manifest.swaps:
        src = swap.source
        if src.bucket is not None and src.key is not None:
            where = (src.bucket, src.key)
            out[swap.index] = detections.s3_source(staged[where], src.bucket, src.key, etags[where])
        else:
            out[swap.index] = detections.url_source(str(src.url))
    return out


def _detect_cost(detector: akool_swap.Detector | None) -> dict[str, Any] | None:
    """The report's `akool.detect_calls` when the job got as far as AKOOL's detector."""
    return {"detect_calls": detector.calls} if detector is not None and detector.calls else None
