"""AKOOL authentication (akool-api.md §1): the API key header, and legacy Bearer tokens from getToken.

Rules the emulator applies:
- a non-empty `Authorization` header wins and `x-api-key` is ignored, even when the key is right;
- `Authorization` must be `Bearer <token>` with a token this emulator issued and that has not expired;
  the API key itself is not a Bearer token (AKOOL never documents that it is);
- no credential at all → 1102; a wrong one → 1101.
Tokens are HS256 JWTs shaped like AKOOL's example, signed with a per-process random key, so they stop
working when the emulator restarts (like a rotated key; clients must be able to fetch a new one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from local.emulator.codes import AUTH_EMPTY, INVALID_AUTH, OK

AuthKind = Literal["bearer", "x-api-key", "none"]
TOKEN_LIFETIME_SECONDS = 2 * 365 * 24 * 3600  # "valid for more than 1 year"


@dataclass(frozen=True)
class AuthResult:
    kind: AuthKind  # which credential was used (logged; the value never is)
    code: int  # OK, AUTH_EMPTY or INVALID_AUTH

    @property
    def ok(self) -> bool:
        return self.code == OK


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(self, client_id: str, api_key: str, user_id: str, uid: int) -> None:
        self._client_id = client_id
        self._api_key = api_key
        self._user_id = user_id
        self._uid = uid
        self._signing_key = secrets.token_bytes(32)

    def credentials_match(self, client_id: object, client_secret: object) -> bool:
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            return False
        # Both compared every time, so timing does not tell which one was wrong.
        id_ok = hmac.compare_digest(client_id.encode(), self._client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self._api_key.encode())
        return id_ok and secret_ok

    def issue_token(self) -> str:
        now = int(time.time())
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "id": self._user_id,
            "type": "user",
            "from": "tob",
            "uid": self._uid,
            "code": secrets.token_hex(3),
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = hmac.new(self._signing_key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(sig)}"

    def token_valid(self, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3:
            return False
        signing_input = f"{parts[0]}.{parts[1]}"
        expected = hmac.new(self._signing_key, signing_input.encode("ascii", "replace"), hashlib.sha256)
        try:
            if not hmac.compare_digest(expected.digest(), _unb64(parts[2])):
                return False
            claims: Any = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(claims, dict) and isinstance(claims.get("exp"), int) and claims["exp"] > time.time()

    def check(self, authorization: str | None, api_key: str | None) -> AuthResult:
        authorization = (authorization or "").strip()
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return AuthResult("bearer", INVALID_AUTH)
            return AuthResult("bearer", OK if self.token_valid(token) else INVALID_AUTH)
        api_key = (api_key or "").strip()
        if api_key:
            ok = hmac.compare_digest(api_key.encode(), self._api_key.encode())
            return AuthResult("x-api-key", OK if ok else INVALID_AUTH)
        return AuthResult("none", AUTH_EMPTY)
