"""The local AWS authorises batch calls as AWS does (local/ministack_server.py)."""

from __future__ import annotations

from local.ministack_server import as_aws_authorises, corrected


def test_given_sqs_and_sns_batch_operations_then_authorised_by_the_single_actions_permission() -> None:
    # Given the batch operations AWS documents as having no permission of their own
    # When mapped, then each is the single action AWS checks
    assert as_aws_authorises("sqs:SendMessageBatch") == "sqs:SendMessage"
    assert as_aws_authorises("sqs:DeleteMessageBatch") == "sqs:DeleteMessage"
    assert as_aws_authorises("sqs:ChangeMessageVisibilityBatch") == "sqs:ChangeMessageVisibility"
    assert as_aws_authorises("sns:PublishBatch") == "sns:Publish"


def test_given_other_actions_then_unchanged() -> None:
    # Given actions that are their own permission (DynamoDB's batch calls are), or none
    # Then they pass through as MiniStack named them
    for action in ("sqs:SendMessage", "dynamodb:BatchWriteItem", "s3:GetObject", None):
        assert as_aws_authorises(action) == action


def test_given_ministacks_extractor_when_wrapped_then_its_answer_is_corrected() -> None:
    # Given an extractor answering with the operation name, as MiniStack's does
    def extract(service: str, *rest: object) -> str:
        return f"{service}:SendMessageBatch"

    # When wrapped, then the call is authorised as sqs:SendMessage, arguments passed through
    assert corrected(extract)("sqs", "POST", "/", {}, b"", {}) == "sqs:SendMessage"
