"""AKOOL webhook callbacks: verify, decrypt, enqueue (docs/akool.md §5; README: Webhook).

Checks, in order, each one before anything is trusted or written:
1. the job exists (404) and the `token` query parameter matches its stored hash, in constant time (401);
2. the body is JSON with `signature`, `dataEncrypt`, `timestamp`, `nonce` (400);
3. AKOOL's SHA-1 signature over clientId, timestamp, nonce and dataEncrypt;
4. AES-CBC decryption of dataEncrypt (key = API key, IV = clientId[:16]);
5. the decrypted `_id` is the job's AKOOL `_id`.
The token proves the caller got the URL we gave AKOOL; the signature and the ciphertext prove the body
comes from someone holding our AKOOL credentials. When the token is right but 3–5 fail, the body is not
trusted: AKOOL is asked (listbyids) for the job's state, that truth is enqueued, and the call gets 401.
Verify, then enqueue: AKOOL's word goes on the FinaliseQueue (messages.py) and the call is answered at
once; FinaliseFunction downloads the result and ends the job. Only one write besides: a job AKOOL says is
finished (status 3/4) gives its AKOOL slot back here (pacing.py), the moment we know, so the next
submission need not wait for the download. Every authentic call gets 200, duplicates and late ones
included, since AKOOL retries until it does.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dropswap import messages, webhook_crypto
from dropswap.akool_client import AkoolError
from dropswap.akool_truth import AkoolLookup, AkoolTruth
from dropswap.credentials import AkoolCredentials
from dropswap.jobs import Job, Status
from dropswap.ports import AkoolSlots, JobReader, MessageSink
from dropswap.tokens import token_matches

log = logging.getLogger(__name__)

# AKOOL's callback is four short fields; anything much bigger is not one.
MAX_BODY_BYTES = 64 * 1024
_MAX_JOB_ID = 128


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

    @property
    def accepted(self) -> bool:
        return self.status_code == 200


def parse_callback(body: str | None, *, is_base64: bool) -> Callback | None:
    """The callback body, or None when it is not one (→ 400)."""
    if body is None:
        return None
    try:
        raw = base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8")
        if len(raw) > MAX_BODY_BYTES:
            return None
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    if not isinstance(data, dict):
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
        job = self._store.get(job_id) if 0 < len(job_id) <= _MAX_JOB_ID else None
        if job is None:
            return WebhookReply(404, {"error": "not found"}, "unknown_job")
        if not token_matches(token, job.token_hash):
            # The token's hash is stored with SUBMITTED, so a callback can outrun it while the job is still
            # WAITING (claimed, being submitted): still refused (AKOOL retries any non-200), but logged
            # for what it is rather than as a bad token.
            reason = "not_submitted_yet" if job.status is Status.WAITING else "bad_token"
            return WebhookReply(401, {"error": "unauthorized"}, reason)

        callback = parse_callback(body, is_base64=is_base64)
        if callback is None:
            return WebhookReply(400, {"error": "body is not an AKOOL callback"}, "malformed_body")

        creds = self._credentials()
        if not webhook_crypto.signature_matches(
            creds.client_id, callback.timestamp, callback.nonce, callback.data_encrypt, callback.signature
        ):
            return self._untrusted(job, creds, "bad_signature")
        try:
            payload = webhook_crypto.decrypt(callback.data_encrypt, creds.client_id, creds.api_key)
        except webhook_crypto.WebhookCryptoError:
            return self._untrusted(job, creds, "undecryptable")
        if payload.get("_id") != job.akool_id:
            return self._untrusted(job, creds, "id_mismatch")

        truth = AkoolTruth.from_payload(payload)
        if truth is None:
            # Authentic but without a status 1–4 we understand: ask AKOOL what it means.
            return self._ok(job, self._ask_akool(job, creds), "unknown_status")
        return self._ok(job, self._enqueue(job, truth), "accepted")

    # -- helpers ----------------------------------------------------------------------------------
    def _ok(self, job: Job, queued: AkoolTruth | None, reason: str) -> WebhookReply:
        body = {"ok": True, "job_id": job.job_id, "status": job.status.value}
        if job.terminal:
            reason = "duplicate_or_late"
        return WebhookReply(200, body, reason, queued)

    def _untrusted(self, job: Job, creds: AkoolCredentials, reason: str) -> WebhookReply:
        """The token was right but the body is not AKOOL's: get the truth from AKOOL instead."""
        # A terminal job has nothing left to learn, so a forged call costs no AKOOL request.
        queued = None if job.terminal else self._ask_akool(job, creds)
        return WebhookReply(401, {"error": "unauthorized"}, reason, queued)

    def _enqueue(self, job: Job, truth: AkoolTruth) -> AkoolTruth | None:
        """Put `truth` on the FinaliseQueue (nothing for a job that has already ended)."""
        if job.terminal:
            return None
        if truth.status in (3, 4):
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
            # The reconciler will ask again later; the caller's answer does not depend on this.
            log.warning("listbyids lookup failed", extra={"job_id": job.job_id, "error": str(exc)})
            return None
        for info in infos:
            if info.akool_id == job.akool_id:
                truth = AkoolTruth.from_job_info(info)
                return self._enqueue(job, truth) if truth else None
        return None
