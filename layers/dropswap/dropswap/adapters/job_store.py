"""DynamoDB adapter for the Jobs table: every status change is a conditional update.

The job itself (record, statuses, legal transitions) is jobs.py's; this module maps it to items.

Table layout (see template.yaml):
- key `job_id` (S);
- GSI `open-jobs` on `open_state` + `updated_at` (sparse: only WAITING/SUBMITTED/PROCESSING jobs carry
  `open_state`), so the reconciler never scans the table. `open_state` is the status, except for a job the
  credit budget holds back (WAITING for "credit budget", credits.py): `WAITING_CREDIT`, so the reconciler
  finds those apart from the jobs waiting for an input, oldest first, and only when the budget has room;
- GSI `waiting-for` on `waiting_for` (sparse, KEYS_ONLY): the first input a WAITING job still needs, so an
  upload of that key finds the jobs it unblocks;
- `ttl` (epoch seconds) for DynamoDB's TTL;
- `claim_owner`/`claim_until`: the submission claim (WAITING only); `finaliser`/`finalise_until`: the
  finalisation lease (SUBMITTED/PROCESSING only: the finaliser). Both go when the job turns terminal.
- `faces#<digest>` items (detections.source_cache_id): the faces found in one version of a source image,
  shared by the jobs that use it (`cached_faces`/`cache_faces`). They carry no index attribute and a `ttl`.

A refused transition is not an error: it returns the job as it is (ReturnValuesOnConditionCheckFailure).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from dropswap.domain.credits import CREDIT_BUDGET
from dropswap.domain.detections import faces_from_data, faces_to_data
from dropswap.domain.faces import DetectedFace
from dropswap.domain.jobs import ALLOWED_FROM, TERMINAL, Job, Status, TransitionResult, iso_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OPEN_JOBS_INDEX = "open-jobs"
WAITING_FOR_INDEX = "waiting-for"
# The open-jobs partition of the jobs the credit budget holds back.
CREDIT_WAIT_STATE = "WAITING_CREDIT"

# DynamoDB's size limits on index key attributes a caller may set (bytes of UTF-8): a GSI partition key at
# most 2048. (open_state and updated_at, the other index keys, are short values this module writes itself.)
_INDEX_KEY_BYTES = {"waiting_for": 2048}

_SER = TypeSerializer()
_DE = TypeDeserializer()

# Attributes a caller may set through a transition; anything else is a programming error.
_FIELDS = (
    "bucket",
    "image_key",
    "sidecar_key",
    "sidecar_etag",
    "image_etag",
    "engine",
    "akool_id",
    "akool_job_id",
    "token_hash",
    "result_key",
    "report_key",
    "error",
    "attempts",
    "waiting_for",
    "akool_status",
    "result_url",
    "submitted_at",
    "finished_at",
    "request_summary",
    "metadata_json",
    "detections_json",
)


def _job_from_item(item: Mapping[str, Any]) -> Job:
    data = {k: _DE.deserialize(v) for k, v in item.items()}
    known = {f: data.pop(f) for f in (*_FIELDS, "created_at", "updated_at") if f in data}
    for num in ("attempts", "akool_status"):
        if known.get(num) is not None:
            known[num] = int(known[num])
    job_id = str(data.pop("job_id"))
    status = Status(data.pop("status"))
    return Job(job_id=job_id, status=status, **known, extra=data)


class JobStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_days: int = 90,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86400
        self._clock = clock

    # -- reads ---------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        resp = self._ddb.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return _job_from_item(item) if item else None

    def jobs_waiting_for(self, key: str) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": WAITING_FOR_INDEX,
            "KeyConditionExpression": "waiting_for = :k",
            "ExpressionAttributeValues": {":k": {"S": key}},
        }
        while True:
            resp = self._ddb.query(**kwargs)
            ids.extend(i["job_id"]["S"] for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return ids
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def open_jobs(self, status: Status, updated_before: str, limit: int = 500) -> Iterator[Job]:
        """Jobs in a non-terminal status whose last update is older than `updated_before` (ISO time); for
        WAITING, those waiting for an input (jobs_waiting_for_credit lists the others)."""
        return self._open(status.value, updated_before, limit)

    def jobs_waiting_for_credit(self, limit: int) -> Iterator[Job]:
        """Jobs the credit budget holds back, the longest waiting first."""
        return self._open(CREDIT_WAIT_STATE, None, limit)

    def _open(self, state: str, updated_before: str | None, limit: int) -> Iterator[Job]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OPEN_JOBS_INDEX,
            "KeyConditionExpression": "open_state = :s",
            "ExpressionAttributeValues": {":s": {"S": state}},
            # Pages no larger than needed: a long queue of waiting jobs is not read whole each run.
            "Limit": max(1, min(limit, 1000)),
        }
        if updated_before is not None:
            kwargs["KeyConditionExpression"] += " AND updated_at < :t"
            kwargs["ExpressionAttributeValues"][":t"] = {"S": updated_before}
        seen = 0
        while seen < limit:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                seen += 1
                yield _job_from_item(item)
                if seen >= limit:
                    return
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- the detections of source versions (detections.py) ---------------------------------------
    def cached_faces(self, cache_id: str) -> list[DetectedFace] | None:
        """The faces kept for a source version; None when none are kept (or unreadable: detect again).
        An eventually consistent read is enough: a miss only costs one detection."""
        resp = self._ddb.get_item(TableName=self._table, Key={"job_id": {"S": cache_id}})
        text = resp.get("Item", {}).get("faces_json", {}).get("S")
        if not text:
            return None
        try:
            return faces_from_data(json.loads(text))
        except ValueError:
            return None

    def cache_faces(self, cache_id: str, faces: Sequence[DetectedFace], *, source: str) -> None:
        """Keep the faces of a source version (an idempotent overwrite: the same bytes, the same faces)."""
        ttl = int(self._clock()) + self._ttl_seconds
        self._ddb.update_item(
            TableName=self._table,
            Key={"job_id": {"S": cache_id}},
            UpdateExpression="SET #f = :f, #s = :s, #ttl = :ttl",
            ExpressionAttributeNames={"#f": "faces_json", "#s": "source", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":f": {"S": json.dumps(faces_to_data(faces), separators=(",", ":"))},
                ":s": {"S": source},
                ":ttl": {"N": str(ttl)},
            },
        )

    def _current(self, job_id: str, item: Mapping[str, Any] | None) -> Job | None:
        # The item returned with a failed condition; re-read if it is partial (seen with emulators).
        if item and "status" in item:
            return _job_from_item(item)
        return self.get(job_id)

    def _update(self, job_id: str, update: _Update) -> TransitionResult:
        """One conditional UpdateItem; a failed condition is an answer (the job as it is), not an error."""
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=update.expr,
                ConditionExpression=update.condition,
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues=update.values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item: Any = exc.response.get("Item")
            return TransitionResult(False, self._current(job_id, item))
        return TransitionResult(True, _job_from_item(resp["Attributes"]))

    def _drop_lease(self, job_id: str, owner: str, owner_attr: str, until_attr: str) -> None:
        """Remove a lease if `owner` still holds it; someone else's lease is left alone."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="REMOVE #o, #u",
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": owner_attr, "#u": until_attr},
                ExpressionAttributeValues={":o": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # -- writes --------------------------------------------------------------------------------
    def transition(
        self,
        job_id: str,
        new_status: Status,
        *,
        set_fields: Mapping[str, Any] | None = None,
        expect_owner: str | None = None,
        expect_finaliser: str | None = None,
    ) -> TransitionResult:
        """Move a job to `new_status` if the state machine allows it from where it is now.

        `set_fields` are written with the status (None values are removed). `expect_owner`, when given,
        additionally requires that the caller holds the submission claim (see `claim`);
        `expect_finaliser`, that it holds the finalisation lease (see `claim_finalisation`).
        """
        now = self._clock()
        update = _transition_update(
            new_status, dict(set_fields or {}), now_iso=iso_time(now), ttl=int(now) + self._ttl_seconds,
            expect_owner=expect_owner, expect_finaliser=expect_finaliser,
        )
        return self._update(job_id, update)

    def claim(
        self,
        job_id: str,
        owner: str,
        lease_seconds: int,
        *,
        create_fields: Mapping[str, Any],
    ) -> TransitionResult:
        """Take the right to submit a job to AKOOL: one holder at a time, and only before SUBMITTED.

        Creates the record as WAITING if there is none. A lease lets another delivery take over if the
        holder died mid-submission; the holder's later transition checks it still owns the claim.
        """
        now = self._clock()
        update = _claim_update(owner, int(now), lease_seconds, create_fields, now_iso=iso_time(now),
                               ttl=int(now) + self._ttl_seconds)
        return self._update(job_id, update)

    def release(self, job_id: str, owner: str) -> None:
        """Give a claim back (e.g. the submit hit a retryable error) so the next delivery can try."""
        self._drop_lease(job_id, owner, "claim_owner", "claim_until")

    def claim_finalisation(self, job_id: str, owner: str, lease_seconds: int) -> TransitionResult:
        """Take the right to finalise an open (SUBMITTED/PROCESSING) job: one holder at a time.

        Only the holder downloads the result and writes the terminal state, so duplicate callbacks and
        the reconciler never store a result twice. The lease outlives the caller's Lambda timeout, so an
        expired lease means its holder is gone and another may take over. `updated_at` is left alone:
        the claim is not a status change, and the reconciler's staleness clock must keep running.
        """
        now = int(self._clock())
        names = {"#status": "status", "#fo": "finaliser", "#fu": "finalise_until"}
        values: dict[str, Any] = {
            ":owner": {"S": owner},
            ":until": {"N": str(now + lease_seconds)},
            ":nowN": {"N": str(now)},
            ":s": {"S": Status.SUBMITTED.value},
            ":p": {"S": Status.PROCESSING.value},
        }
        condition = "(#status = :s OR #status = :p) AND (attribute_not_exists(#fu) OR #fu < :nowN)"
        return self._update(job_id, _Update("SET #fo = :owner, #fu = :until", condition, names, values))

    def release_finalisation(self, job_id: str, owner: str) -> None:
        """Give the finalisation lease back (the attempt failed) so a retry need not wait for it to expire."""
        self._drop_lease(job_id, owner, "finaliser", "finalise_until")


# -- the update expressions -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Update:
    expr: str
    condition: str
    names: dict[str, str]
    values: dict[str, Any]


def _transition_update(
    new_status: Status,
    fields: dict[str, Any],
    *,
    now_iso: str,
    ttl: int,
    expect_owner: str | None,
    expect_finaliser: str | None,
) -> _Update:
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown job fields: {sorted(unknown)}")
    _check_index_keys(fields)
    names: dict[str, str] = {"#status": "status", "#u": "updated_at", "#ttl": "ttl", "#c": "created_at"}
    values: dict[str, Any] = {
        ":new": {"S": new_status.value}, ":now": {"S": now_iso}, ":ttl": {"N": str(ttl)}
    }
    sets = ["#status = :new", "#u = :now", "#ttl = :ttl", "#c = if_not_exists(#c, :now)"]
    removes: list[str] = []
    for i, (name, value) in enumerate(fields.items()):
        if value is None:
            removes.append(name)
            continue
        names[f"#f{i}"] = name
        values[f":f{i}"] = _SER.serialize(value)
        sets.append(f"#f{i} = :f{i}")
    if new_status in TERMINAL:
        removes.extend(
            ["open_state", "waiting_for", "claim_owner", "claim_until", "finaliser", "finalise_until"]
        )
    else:
        names["#o"] = "open_state"
        if new_status is Status.WAITING and fields.get("waiting_for") == CREDIT_BUDGET:
            values[":open"] = {"S": CREDIT_WAIT_STATE}
            sets.append("#o = :open")
        else:
            sets.append("#o = :new")
        if new_status is not Status.WAITING:
            # Past WAITING, the submission claim and the missing-input marker have done their job.
            removes.extend(["waiting_for", "claim_owner", "claim_until"])

    allowed = ALLOWED_FROM[new_status]
    conds: list[str] = []
    for j, status in enumerate(sorted(s.value for s in allowed if s is not None)):
        values[f":a{j}"] = {"S": status}
        conds.append(f"#status = :a{j}")
    if None in allowed:
        conds.append("attribute_not_exists(job_id)")
    condition = "(" + " OR ".join(conds) + ")"
    if expect_owner is not None:
        names["#co"] = "claim_owner"
        values[":owner"] = {"S": expect_owner}
        condition += " AND #co = :owner"
    if expect_finaliser is not None:
        names["#fo"] = "finaliser"
        values[":finaliser"] = {"S": expect_finaliser}
        condition += " AND #fo = :finaliser"

    expr = "SET " + ", ".join(sets)
    removes = list(dict.fromkeys(r for r in removes if r not in fields or fields[r] is None))
    if removes:
        for k, name in enumerate(removes):
            names[f"#r{k}"] = name
        expr += " REMOVE " + ", ".join(f"#r{k}" for k in range(len(removes)))
    return _Update(expr, condition, names, values)


def _claim_update(
    owner: str, now: int, lease_seconds: int, create_fields: Mapping[str, Any], *, now_iso: str, ttl: int
) -> _Update:
    names = {"#status": "status", "#u": "updated_at", "#c": "created_at", "#o": "open_state",
             "#co": "claim_owner", "#cu": "claim_until", "#ttl": "ttl", "#att": "attempts"}
    values: dict[str, Any] = {
        ":waiting": {"S": Status.WAITING.value},
        ":owner": {"S": owner},
        ":until": {"N": str(now + lease_seconds)},
        ":nowN": {"N": str(now)},
        ":now": {"S": now_iso},
        ":ttl": {"N": str(ttl)},
        ":zero": {"N": "0"},
        ":one": {"N": "1"},
    }
    sets = ["#status = :waiting", "#u = :now", "#c = if_not_exists(#c, :now)", "#o = :waiting",
            "#co = :owner", "#cu = :until", "#ttl = :ttl", "#att = if_not_exists(#att, :zero) + :one"]
    _check_index_keys(create_fields)
    for i, (name, value) in enumerate(create_fields.items()):
        if name not in _FIELDS:
            raise ValueError(f"unknown job field: {name}")
        if value is None:
            continue
        names[f"#f{i}"] = name
        values[f":f{i}"] = _SER.serialize(value)
        sets.append(f"#f{i} = if_not_exists(#f{i}, :f{i})")
    condition = (
        "(attribute_not_exists(job_id) OR #status = :waiting) "
        "AND (attribute_not_exists(#cu) OR #cu < :nowN)"
    )
    # The missing-input marker stays: if this holder hands the job back (no AKOOL slot, a retryable
    # error), a redelivered upload event must still find the job through the waiting-for index.
    return _Update("SET " + ", ".join(sets), condition, names, values)


def _check_index_keys(fields: Mapping[str, Any]) -> None:
    """ValueError before any write when an index key value is longer than DynamoDB allows (the callers
    refuse such keys first: manifest.check_key_length)."""
    for name, limit in _INDEX_KEY_BYTES.items():
        value = fields.get(name)
        size = len(value.encode("utf-8")) if isinstance(value, str) else 0
        if size > limit:
            raise ValueError(f"{name} is {size} bytes; a DynamoDB index key is at most {limit}")
