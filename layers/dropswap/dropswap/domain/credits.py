"""AKOOL credits and the per-day credit budget (ARCHITECTURE §4 "Every credit on purpose"; docs/akool.md §9).

Pure rules, no AWS: what a swap costs, which UTC day a credit is counted on, when the budget resets, and
whether a refused swap call took a credit. The counter itself is a port (ports.CreditCounter) that
adapters/credit_store.py keeps in the Jobs table with conditional writes.

- AKOOL says credits are taken when a swap is submitted and publishes no per-image price, so one swap call
  is taken to cost `credits_per_swap` credits (1 unless the AKOOL_CREDITS_PER_SWAP setting says otherwise):
  an assumption. Detection costs none that AKOOL documents.
- A budget of 0 means unlimited; credits are counted either way, so a budget set mid-day starts from what
  the day has already spent.
- A credit counted for a swap call AKOOL refused before accepting the job is given back; when we cannot
  tell (a timeout, a dropped connection, a 5xx without AKOOL's answer), it stays counted: the budget is
  never over-spent, at the price of counting a credit AKOOL may not have taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dropswap.domain.akool import AkoolError

# The `waiting_for` of a job (record, report) held back by the budget. It is not an S3 key (those start
# with inbox/ or s3://), so no upload event ever finds it in the waiting-for index.
CREDIT_BUDGET = "credit budget"
# What one swap call costs when nothing says otherwise (AKOOL publishes no figure: docs/akool.md §9).
DEFAULT_CREDITS_PER_SWAP = 1


# The day's count is an item of the Jobs table under this id (adapters/credit_store.py keeps it; `dropswap
# plan` reads it to show what is left).
CREDITS_ITEM_PREFIX = "akool-credits#"


def credits_item_id(day: str) -> str:
    return CREDITS_ITEM_PREFIX + day


def utc_day(epoch: float) -> str:
    """The UTC day a credit spent at `epoch` counts on: "2026-11-05"."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")


def resets_at(epoch: float) -> str:
    """When the budget of `epoch`'s UTC day resets: the next 00:00 UTC, ISO 8601."""
    day = datetime.fromtimestamp(epoch, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (day + timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Charge:
    """Credits counted for one swap call, on the day they were counted (a refund goes back to that day)."""

    day: str
    credits: int


@dataclass(frozen=True)
class BudgetState:
    """The budget as a report and an event show it."""

    per_day: int  # 0: unlimited
    day: str
    spent: int
    needed: int  # what the waiting job's swap costs
    resets_at: str

    def as_dict(self) -> dict[str, object]:
        return {
            "credits_per_day": self.per_day,
            "day": self.day,
            "spent": self.spent,
            "needed": self.needed,
            "resets_at": self.resets_at,
            "message": (
                f"today's AKOOL credit budget is spent ({self.spent} of {self.per_day} credits, UTC day "
                f"{self.day}); the job starts by itself after the budget resets at {self.resets_at} or is "
                "raised (template parameter AkoolCreditBudgetPerDay)"
            ),
        }


def room_for(per_day: int, spent: int, credits: int) -> bool:
    """Whether `credits` more fit in a budget of `per_day` (0: unlimited) with `spent` already counted."""
    return per_day <= 0 or spent + credits <= per_day


def refused_before_acceptance(exc: AkoolError) -> bool:
    """Whether AKOOL certainly did not accept the swap call that raised `exc` (so took no credit).

    AKOOL answered with a code other than success (1005 too frequent, 1006 out of credit, 1003 a bad
    parameter, ...) or the HTTP request itself was refused (4xx): nothing was accepted. A timeout, a dropped
    connection or a 5xx without AKOOL's answer may follow an acceptance, and an answer without an `_id`
    followed one: those keep their credit counted."""
    if exc.code is not None:
        return True
    return exc.http_status is not None and 400 <= exc.http_status < 500
