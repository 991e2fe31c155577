"""The per-day AKOOL credit budget (issue 17 item 4; domain/credits.py has the rules, the counter is a
port kept by adapters/credit_store.py).

- The submit path looks first (`has_room`, a read, before the job's claim: a job the budget cannot take
  is not staged, detected or claimed for a swap), then counts right before AKOOL's swap call (`spend`, one
  conditional write: never over the budget, however many submitters race for the last credit), and gives
  the credit back (`refund`) when AKOOL refused the call before accepting it.
- The reconciler asks `remaining` to decide how many jobs waiting for the budget to recheck: none while
  the day's budget is spent, so waiting jobs cost nothing until the budget resets (a new UTC day) or is
  raised (a redeploy with a higher AkoolCreditBudgetPerDay).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dropswap.domain import credits
from dropswap.domain.credits import BudgetState, Charge
from dropswap.domain.ports import CreditCounter


class CreditBudget:
    def __init__(
        self,
        counter: CreditCounter | None,
        per_day: int,
        *,
        credits_per_swap: int = credits.DEFAULT_CREDITS_PER_SWAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counter = counter
        self._per_day = max(0, per_day)
        self._cost = max(1, credits_per_swap)
        self._clock = clock

    @classmethod
    def uncounted(cls) -> CreditBudget:
        """No budget and no counting (tests and tools that do not model credits)."""
        return cls(None, 0)

    @property
    def limited(self) -> bool:
        return self._counter is not None and self._per_day > 0

    @property
    def credits_per_swap(self) -> int:
        return self._cost

    def has_room(self) -> bool:
        """Whether one more swap fits in today's budget (a read: nothing is counted)."""
        if not self.limited or self._counter is None:
            return True
        return credits.room_for(self._per_day, self._counter.spent(self._today()), self._cost)

    def remaining(self) -> int | None:
        """Swaps today's budget still admits; None: unlimited."""
        if not self.limited or self._counter is None:
            return None
        left = self._per_day - self._counter.spent(self._today())
        return max(0, left // self._cost)

    def spend(self) -> Charge | None:
        """Count one swap's credits on today; None when they do not fit (nothing counted)."""
        charge = Charge(self._today(), self._cost)
        if self._counter is None:
            return charge
        if not self._counter.spend(charge.day, charge.credits, self._per_day):
            return None
        return charge

    def refund(self, charge: Charge) -> None:
        if self._counter is not None:
            self._counter.refund(charge.day, charge.credits)

    def state(self) -> BudgetState:
        """Today's budget as a WAITING report and a Job Waiting event show it."""
        now = self._clock()
        day = credits.utc_day(now)
        spent = self._counter.spent(day) if self._counter is not None else 0
        return BudgetState(self._per_day, day, spent, self._cost, credits.resets_at(now))

    def _today(self) -> str:
        return credits.utc_day(self._clock())
