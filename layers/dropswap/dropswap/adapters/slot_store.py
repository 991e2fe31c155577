"""AKOOL's job slots, kept in the Jobs table: one item whose `holders` string set names every job of this
account AKOOL has accepted (or is being sent) and not yet finished (pacing.py decides when to take one).

- `take` is one conditional write (ADD to the set while it has fewer than `limit` members, or already
  holds the job), so two submitters can never both take the last slot: our own count never exceeds the
  limit, whatever SubmitConcurrency is.
- `release` is idempotent (DELETE from the set, only if a member), so every path that learns a job is done
  at AKOOL (the webhook, the finaliser, an expiry, a failed submit) may call it, repeatedly.
- The reconciler repairs leaks (a holder that crashed between its last two writes): see reconcile.py.
The item's key is not a job id (those are 32 hex digits); it carries no `open_state`, so the open-jobs
index never lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SLOTS_ITEM_ID = "akool-slots"


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class SlotStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._ddb = client
        self._table = table_name
        self._key = {"job_id": {"S": SLOTS_ITEM_ID}}

    def holders(self) -> frozenset[str]:
        resp = self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        item = resp.get("Item") or {}
        return frozenset(item.get("holders", {}).get("SS", []))

    def take(self, job_id: str, limit: int) -> bool:
        """Add `job_id` to the holders if fewer than `limit` hold a slot (or it already does)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="ADD #h :id",
                ConditionExpression="attribute_not_exists(#h) OR size(#h) < :limit OR contains(#h, :job)",
                ExpressionAttributeNames={"#h": "holders"},
                ExpressionAttributeValues={
                    ":id": {"SS": [job_id]}, ":job": {"S": job_id}, ":limit": {"N": str(limit)}
                },
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def release(self, job_id: str) -> None:
        """Give the job's slot back; nothing happens if it holds none."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="DELETE #h :id",
                ConditionExpression="contains(#h, :job)",
                ExpressionAttributeNames={"#h": "holders"},
                ExpressionAttributeValues={":id": {"SS": [job_id]}, ":job": {"S": job_id}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
