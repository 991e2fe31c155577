"""AKOOL's business codes and messages (akool-api.md §6) and the error that carries one."""

from __future__ import annotations

OK = 1000
PARAM_ERROR = 1003
TOO_FREQUENT = 1005
QUOTA = 1006
TOO_MANY_FACES = 1007
INVALID_AUTH = 1101
AUTH_EMPTY = 1102
BANNED = 1200

MESSAGES: dict[int, str] = {
    OK: "OK",
    PARAM_ERROR: "Parameter error",
    TOO_FREQUENT: "Operation is too frequent",
    QUOTA: "Your quota is not enough",
    TOO_MANY_FACES: "The number of people who can have their faces changed cannot exceed 8",
    INVALID_AUTH: "Invalid authorization or The request token has expired",
    AUTH_EMPTY: "Authorization cannot be empty",
    BANNED: "The account has been banned",
    1016: "face swapping error",
}

V3_SUBMIT_MSG = (
    "Please be patient! If your results are not generated in three hours, please check your input image."
)


def message(code: int) -> str:
    return MESSAGES.get(code, "Error")


class BusinessError(Exception):
    """A request refused with an AKOOL business code; `detail` says which rule, for developers."""

    def __init__(self, code: int, detail: str | None = None, base: str | None = None) -> None:
        self.code = code
        self.detail = detail
        self.base = base or message(code)
        super().__init__(self.msg)

    @property
    def msg(self) -> str:
        return f"{self.base}: {self.detail}" if self.detail else self.base


def missing(field: str) -> BusinessError:
    """1003 with AKOOL's wording for an absent required field."""
    return BusinessError(PARAM_ERROR, field, base="Parameter cannot be empty")
