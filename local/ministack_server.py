"""Starts MiniStack (run by its own venv's python, not ours) with its IAM actions corrected where it differs
from AWS.

MiniStack 1.5.33 authorises every API call as `<service>:<OperationName>`. AWS does not for batch calls:
SQS's SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch, and SNS's PublishBatch, are
authorised by the single action's permission (sqs:SendMessage, …, sns:Publish); AWS accepts no permission
of their own ("You cannot set permissions explicitly for SendMessageBatch…", SQS Developer Guide, Amazon
SQS batch actions). Without this, the template's correct grant is denied locally.

Standard library and MiniStack only: this file runs on MiniStack's interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Batch operation -> the IAM action AWS checks for it.
AUTHORISED_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}


def as_aws_authorises(action: str | None) -> str | None:
    return AUTHORISED_AS.get(action, action) if action else action


def corrected(extract: Callable[..., str | None]) -> Callable[..., str | None]:
    def extract_iam_action(*args: Any, **kwargs: Any) -> str | None:
        return as_aws_authorises(extract(*args, **kwargs))

    return extract_iam_action


def main() -> None:
    # MiniStack imports extract_iam_action inside its request handlers, so replacing the module's attribute
    # before it serves covers every call.
    from ministack.core import iam_actions  # type: ignore[import-not-found]

    iam_actions.extract_iam_action = corrected(iam_actions.extract_iam_action)
    from ministack.app import main as serve  # type: ignore[import-not-found]

    serve()


if __name__ == "__main__":
    main()
