"""The webhook's token is on the job's record before the swap is sent (submission.py `_arm`), so AKOOL's
callback verifies even when it outruns the SUBMITTED write; a submitter that lost its claim sends nothing
and gives its AKOOL slot back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from dropswap.adapters.akool_client import AkoolClient
from dropswap.adapters.job_store import JobStore
from dropswap.adapters.slot_store import SlotStore
from dropswap.domain.akool import SubmitResult
from dropswap.domain.jobs import Job, Status, TransitionResult
from dropswap.domain.tokens import hash_token
from dropswap.flows.common.pacing import Pacer
from tests.conftest import BUCKET, REGION, TABLE
from tests.unit.akool_fake import BASE, DETECT, fake_akool
from tests.unit.submit_harness import CREDS, Harness, party_harness

IMAGE = "inbox/party/team.jpg"
ALICE = "inbox/party/faces/alice.jpg"
SWAP = {"version": 1, "swaps": [{"source": "faces/alice.jpg", "target": "largest"}]}


@pytest.fixture
def h(resources: dict[str, str]) -> Iterator[Harness]:
    for akool in fake_akool():
        yield party_harness(akool)


def _slots() -> SlotStore:
    return SlotStore(boto3.client("dynamodb", region_name=REGION), TABLE)


class LooksAtTheRecord(AkoolClient):
    """AKOOL's swap call, which first reads the job's record as a callback arriving at that moment would."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        super().__init__(CREDS, BASE, DETECT)
        self.store, self.job_id = store, job_id
        self.seen: list[tuple[Job | None, str]] = []

    def faceswap_pro(
        self, source_images: Sequence[Mapping[str, str]], target_images: Sequence[Mapping[str, str]], *,
        face_enhance: bool, webhook_url: str,
    ) -> SubmitResult:
        token = parse_qs(urlsplit(webhook_url).query)["token"][0]
        self.seen.append((self.store.get(self.job_id), token))
        return super().faceswap_pro(
            source_images, target_images, face_enhance=face_enhance, webhook_url=webhook_url
        )


def test_given_a_ready_job_when_its_swap_is_sent_then_the_record_already_holds_that_urls_token(
    h: Harness,
) -> None:
    # Given a photo, its face and its sidecar
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, SWAP)
    client = LooksAtTheRecord(h.store, h.job_id(IMAGE))
    # When its event is handled
    assert [o.kind for o in h.event(sidecar, h.submitter(akool=lambda: client))] == ["SUBMITTED"]
    # Then at the moment of AKOOL's swap call the record was WAITING with the hash of the URL's token (a
    # callback then verifies: webhook.py "early"), and SUBMITTED keeps the same hash
    [(record, token)] = client.seen
    assert record is not None and record.status is Status.WAITING and not record.akool_id
    assert record.token_hash == hash_token(token)
    assert h.job(IMAGE).token_hash == hash_token(token)


class LosesTheClaimAtArming(JobStore):
    """A store whose write of the token finds the claim gone (its lease lapsed, another delivery took it)."""

    def transition(self, job_id: str, new_status: Status, **kw: Any) -> TransitionResult:
        if "token_hash" in (kw.get("set_fields") or {}) and new_status is Status.WAITING:
            return TransitionResult(False, self.get(job_id))
        return super().transition(job_id, new_status, **kw)


class FailsAtArming(JobStore):
    def transition(self, job_id: str, new_status: Status, **kw: Any) -> TransitionResult:
        if "token_hash" in (kw.get("set_fields") or {}) and new_status is Status.WAITING:
            raise ConnectionError("DynamoDB unreachable")
        return super().transition(job_id, new_status, **kw)


@pytest.mark.parametrize("store_kind", [LosesTheClaimAtArming, FailsAtArming])
def test_given_the_token_cannot_be_armed_then_no_swap_is_sent_and_the_slot_is_given_back(
    h: Harness, store_kind: type[JobStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ready job, AKOOL pacing with one slot, and a store whose write of the token is refused or fails
    h.put(ALICE)
    h.put(IMAGE)
    sidecar = h.put_manifest(IMAGE, SWAP)
    from dropswap.app import submit as app_submit

    store = store_kind(boto3.client("dynamodb", region_name=REGION), TABLE)
    pacer = Pacer(_slots(), 1, wait_seconds=0.0, poll_seconds=0.01)
    submitter = app_submit.submitter(
        h.settings, store, h.objects, lambda: AkoolClient(CREDS, BASE, DETECT), pacer=pacer
    )
    # When its event is handled
    if store_kind is FailsAtArming:
        with pytest.raises(ConnectionError):
            submitter.handle_object_created(BUCKET, sidecar)
    else:
        outcomes = submitter.handle_object_created(BUCKET, sidecar)
        assert [(o.kind, o.detail) for o in outcomes] == [("DUPLICATE", "claim lost before submit")]
    # Then AKOOL got no swap, and the slot it took is free again
    assert h.akool.submissions() == []
    assert _slots().take("next-job", 1)
