"""AKOOL webhook callbacks: verify, decrypt, enqueue (docs/akool.md §5; docs/security.md).

Checks, in order, each one before anything is trusted or written:
1. the job exists and the `token` query parameter matches its stored hash, in constant time: an unknown
   job and a wrong token get the same 401 (no existence oracle: job ids can be computed from a key);
2. the body is a JSON object with `signature`, `dataEncrypt`, `timestamp`, `nonce` (400), parsed with
   bounded size and nesting (untrusted_json.py): no shape of body raises;
3. AKOOL's SHA-1 signature over clientId, timestamp, nonce and dataEncrypt;
4. AES-CBC decryption of dataEncrypt (key = API key, IV = clientId[:16]) to a JSON object;
5. the decrypted `_id` is the job's AKOOL `_id`; for a callback that outran the submitter's SUBMITTED
   write (the job is still WAITING, its token armed right before the swap was sent: submission.py), there
   is no `_id` to compare yet, and FinaliseFunction compares it once the record has it (finalise.py).
The token proves the caller got the URL we gave AKOOL; the signature and the ciphertext prove the body
comes from someone holding our AKOOL credentials. When the token is right but 3–5 fail, the body is not
trusted (it is "unverified"): AKOOL is asked (listbyids) for the job's state; if AKOOL states one, that
truth is enqueued, exactly as a verified callback's would be, and the call gets 200, so that a change in
AKOOL's signing scheme does not become a retry storm. If AKOOL does not know the job, or cannot be
reached, the call gets 401 (no 5xx: AKOOL retries any non-200 anyway, and the reconciler asks again).
A terminal job has nothing left to learn: 200 without asking. Every unverified call is flagged on the
reply (the handler counts `WebhookUnverified`, which is alarmed), and so is a malformed body that came
with the right token (400), so an operator sees a change in AKOOL's callbacks either way.
Verify, then enqueue: AKOOL's word goes on the FinaliseQueue (messages.py) and the call is answered at
once; FinaliseFunction downloads the result and ends the job. Only one write besides: a job AKOOL says is
finished (status 3/4) gives its AKOOL slot back here (pacing.py), the moment we know, so the next
submission need not wait for the download. Every authentic call gets 200, duplicates and late ones
included, since AKOOL retries until it does.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dropswap.domain import messages, webhook_crypto
from dropswap.domain.akool import AkoolCredentials, AkoolError, AkoolLookup, AkoolTruth
from dropswap.domain.jobs import Job, Status
from dropswap.domain.ports import AkoolSlots, JobReader, MessageSink
from dropswap.domain.tokens import hash_token, token_matches
from dropswap.domain.untrusted_json import load_object

log = logging.getLogger(__name__)

# AKOOL's callback is four short fields; anything much bigger is not one.
MAX_BODY_BYTES = 64 * 1024
# Job ids are hex digests (jobs.py); anything else cannot name a job, so it is not looked up.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Compared against when there is no job, so an unknown job costs the same work as a wrong token.
_NO_JOB_HASH = hash_token("no job has this token")
UNAUTHORIZED = {"error": "unauthorized"}
MALFORMED = {"error": "body is not an AKOOL callback"}


@dataclass(frozen=True)
class Callback:
    signature: str
    data_encrypt: str
    timestamp: int | str
    nonce: int | str


@dataclass(frozen=True)
class WebhookReply:
    status_code: int
    body: dict[str, Any]
    reason: str  # for logs and metrics; never contains the token, the secret or the result URL
    queued: AkoolTruth | None = None  # what went on the FinaliseQueue (never log its url)
    unverified: bool = False  # right token, body not verifiable (counted as WebhookUnverified)

    @property
    def accepted(self) -> bool:
        return self.status_code == 200


def parse_callback(body: str | None, *, is_base64: bool) -> Callback | None:
    """The callback body, or None when it is not one (→ 400). Never raises, whatever the body."""
    if body is None:
        return None
    try:
        raw = base64.b64decode(body, validate=True) if is_base64 else body
        data = load_object(raw, max_bytes=MAX_BODY_BYTES)
    except ValueError:  # binascii.Error, non-ASCII base64 text and UntrustedJsonError alike
        return None
    signature, data_encrypt = data.get("signature"), data.get("dataEncrypt")
    timestamp, nonce = _scalar(data.get("timestamp")), _scalar(data.get("nonce"))
    if not (isinstance(signature, str) and signature and isinstance(data_encrypt, str) and data_encrypt):
        return None
    if timestamp is None or nonce is None:
        return None
    return Callback(signature=signature, data_encrypt=data_encrypt, timestamp=timestamp, nonce=nonce)


def _scalar(value: Any) -> int | str | None:
    # AKOOL's docs show timestamp and nonce both as numbers and as strings; the signature is computed
    # over their text, so keep them as they came (a JSON integer stays an int).
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value):
        return value
    return None


class WebhookService:
    def __init__(
        self,
        store: JobReader,
        finalise_queue: MessageSink,
        slots: AkoolSlots,
        *,
        credentials: Callable[[], AkoolCredentials],
        akool: Callable[[AkoolCredentials], AkoolLookup],
    ) -> None:
        self._store = store
        self._queue = finalise_queue
        self._slots = slots
        self._credentials = credentials
        self._akool = akool

    def handle(self, job_id: str, token: str | None, body: str | None, *, is_base64: bool) -> WebhookReply:
        job = self._store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            token_matches(token, _NO_JOB_HASH)
            return WebhookReply(401, UNAUTHORIZED, "unknown_job")
        if not token_matches(token, job.token_hash):
            # A WAITING job whose token is not armed yet cannot have sent this URL to AKOOL: refused, but
            # logged for what it most likely is (an older attempt's callback) rather than as a bad token.
            reason = "not_submitted_yet" if job.status is Status.WAITING else "bad_token"
            return WebhookReply(401, UNAUTHORIZED, reason)

        callback = parse_callback(body, is_base64=is_base64)
        if callback is None:
            return WebhookReply(400, MALFORMED, "malformed_body", unverified=True)

        creds = self._credentials()
        if not webhook_crypto.signature_matches(
            creds.client_id, callback.timestamp, callback.nonce, callback.data_encrypt, callback.signature
        ):
            return self._unverified(job, creds, "bad_signature")
        try:
            payload = webhook_crypto.decrypt(callback.data_encrypt, creds.client_id, creds.api_key)
        except webhook_crypto.WebhookCryptoError:
            return self._unverified(job, creds, "undecryptable")
        early = job.status is Status.WAITING and not job.akool_id
        if not early and payload.get("_id") != job.akool_id:
            return self._unverified(job, creds, "id_mismatch")

        truth = AkoolTruth.from_payload(payload)
        if early:
            # AKOOL answered the swap faster than its reply reached the submitter (or the submitter is
            # still writing SUBMITTED). Authentic (signed and encrypted with our credentials, sent to this
            # attempt's URL): queued now, so the job need not wait for AKOOL's undocumented retries or the
            # reconciler; the finaliser waits for the record and compares the `_id` then (finalise.py).
            if truth is None:
                return WebhookReply(401, UNAUTHORIZED, "not_submitted_yet")
            # No slot release here: its `_id` is not checked yet (an older attempt's callback must not free
            # this attempt's slot); the finaliser releases it once it has compared the `_id`.
            return self._ok(job, self._enqueue(job, truth, release=False), "early")
        if truth is None:
            # Authentic but without a status 1–4 we understand: ask AKOOL what it means.
            return self._ok(job, self._ask_akool(job, creds), "unknown_status")
        return self._ok(job, self._enqueue(job, truth), "accepted")

    # -- helpers ----------------------------------------------------------------------------------
    def _ok(
        self, job: Job, queued: AkoolTruth | None, reason: str, *, unverified: bool = False
    ) -> WebhookReply:
        body = {"ok": True, "job_id": job.job_id, "status": job.status.value}
        if job.terminal and not unverified:
            reason = "duplicate_or_late"
        return WebhookReply(200, body, reason, queued, unverified)

    def _unverified(self, job: Job, creds: AkoolCredentials, reason: str) -> WebhookReply:
        """The token was right but the body is not AKOOL's: act on AKOOL's own word instead (§7)."""
        if job.terminal:
            # Nothing AKOOL could say changes a terminal job: 200 ends the retries and costs no request.
            return self._ok(job, None, reason, unverified=True)
        queued = self._ask_akool(job, creds)
        if queued is None:
            return WebhookReply(401, UNAUTHORIZED, reason, None, unverified=True)
        return self._ok(job, queued, reason, unverified=True)

    def _enqueue(self, job: Job, truth: AkoolTruth, *, release: bool = True) -> AkoolTruth | None:
        """Put `truth` on the FinaliseQueue (nothing for a job that has already ended)."""
        if job.terminal:
            return None
        if release and truth.status in (3, 4):
            self._slots.release(job.job_id)
        self._queue.send(messages.finalise_body(job.job_id, truth))
        return truth

    def _ask_akool(self, job: Job, creds: AkoolCredentials) -> AkoolTruth | None:
        """Enqueue listbyids' word on the job; None if AKOOL cannot be asked or does not know it."""
        if not job.akool_id:
            return None
        try:
            infos = self._akool(creds).list_by_ids([job.akool_id])
        except AkoolError as exc:
            # The reconciler will ask again later; the caller gets the answer for "not confirmed".
            log.warning("listbyids lookup failed", extra={"job_id": job.job_id, "error": str(exc)})
            return None
        for info in infos:
            if info.akool_id == job.akool_id:
                truth = AkoolTruth.from_job_info(info)
                return self._enqueue(job, truth) if truth else None
        return None
