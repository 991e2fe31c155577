"""AKOOL credits counted per UTC day, kept in the Jobs table: one small item per day, key
`akool-credits#<YYYY-MM-DD>`, whose number `spent` is the day's credits (domain/credits.py decides what a
swap costs and when a credit is given back).

- `spend` is one conditional write (ADD while `spent + credits <= budget`), so concurrent submitters can
  never together count past the budget: the day's total never exceeds it, whatever SubmitConcurrency is.
  With no budget (0) the write has no condition: the day is counted all the same.
- `refund` gives credits back to the day they were counted on, never below zero and never creating the
  item.
- `spent` is a consistent read (the submit path's early look, the reconciler, `dropswap plan`).
The item's key is not a job id (those are 32 hex digits); it carries no `open_state` or `waiting_for`, so
no index lists it, and a `ttl` lets DynamoDB remove it some weeks after its day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from dropswap.domain.credits import credits_item_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# How long a day's count is kept (for the operator's look back), then DynamoDB's TTL removes it.
KEEP_DAYS = 35


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class CreditStore:
    def __init__(
        self, client: DynamoDBClient, table_name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._ddb = client
        self._table = table_name
        self._clock = clock

    def _key(self, day: str) -> dict[str, dict[str, str]]:
        return {"job_id": {"S": credits_item_id(day)}}

    def spent(self, day: str) -> int:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key(day), ConsistentRead=True)
        value = (resp.get("Item") or {}).get("spent", {}).get("N")
        return int(value) if value is not None else 0

    def spend(self, day: str, credits: int, per_day: int) -> bool:
        if per_day > 0 and credits > per_day:
            return False  # could never fit: nothing to write
        values = {
            ":c": {"N": str(credits)},
            ":ttl": {"N": str(int(self._clock()) + KEEP_DAYS * 86400)},
        }
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(day),
            "UpdateExpression": "ADD #s :c SET #ttl = :ttl",
            "ExpressionAttributeNames": {"#s": "spent", "#ttl": "ttl"},
            "ExpressionAttributeValues": values,
        }
        if per_day > 0:
            # The room left for this spend: the day may hold at most `per_day` once it is counted.
            values[":room"] = {"N": str(per_day - credits)}
            request["ConditionExpression"] = "attribute_not_exists(#s) OR #s <= :room"
        try:
            self._ddb.update_item(**request)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def refund(self, day: str, credits: int) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(day),
                UpdateExpression="ADD #s :neg",
                ConditionExpression="#s >= :c",
                ExpressionAttributeNames={"#s": "spent"},
                ExpressionAttributeValues={":neg": {"N": str(-credits)}, ":c": {"N": str(credits)}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
