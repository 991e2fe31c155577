"""Authentication: x-api-key, getToken Bearer tokens, precedence and the 1101/1102 codes."""

from __future__ import annotations

import pytest
import requests

from tests.contract.helpers import CLIENT_ID, DELETE, DETECT, KEY_32, LIST, QUOTA, TOKEN, V3, V4, Akool

# Every authenticated AKOOL route with a body that would otherwise be acceptable enough to reach auth.
ROUTES = [
    ("POST", V3, {}),
    ("POST", V4, {}),
    ("GET", LIST, None),
    ("POST", DELETE, {"_ids": "x"}),
    ("GET", QUOTA, None),
    ("POST", DETECT, {}),
]


def _call(akool: Akool, method: str, path: str, body: object, headers: dict[str, str]) -> requests.Response:
    if method == "GET":
        return akool.get(path, {"_ids": "0" * 24}, auth=headers)
    return akool.post(path, body, auth=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_missing_credentials_are_1102(akool: Akool, method: str, path: str, body: object) -> None:
    # Given no Authorization and no x-api-key header
    # When any authenticated route is called
    resp = _call(akool, method, path, body, {})
    # Then AKOOL answers code 1102 in a {code,msg} body with HTTP 200
    assert resp.status_code == 200
    assert resp.json() == {"code": 1102, "msg": "Authorization cannot be empty"}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_wrong_api_key_is_1101(akool: Akool, method: str, path: str, body: object) -> None:
    # Given a wrong x-api-key
    # When any authenticated route is called
    resp = _call(akool, method, path, body, {"x-api-key": "not-the-key"})
    # Then the code is 1101
    assert resp.json()["code"] == 1101


def test_right_api_key_is_accepted(akool: Akool) -> None:
    # Given the configured API key in x-api-key
    # When quota/info is called
    answer = akool.get(QUOTA).json()
    # Then it succeeds
    assert answer["code"] == 1000


def test_bearer_wins_over_a_good_api_key(akool: Akool) -> None:
    # Given a bad Bearer token next to a good x-api-key
    headers = {"Authorization": "Bearer nonsense.token.value", "x-api-key": KEY_32}
    # When quota/info is called
    answer = akool.get(QUOTA, auth=headers).json()
    # Then Authorization is used and x-api-key discarded: 1101
    assert answer["code"] == 1101


def test_non_bearer_authorization_is_1101(akool: Akool) -> None:
    # Given an Authorization header with another scheme (and a good key that must be ignored)
    # When quota/info is called
    answer = akool.get(QUOTA, auth={"Authorization": f"Basic {KEY_32}", "x-api-key": KEY_32}).json()
    # Then it is refused with 1101
    assert answer["code"] == 1101


def test_api_key_is_not_a_bearer_token(akool: Akool) -> None:
    # Given the API key sent as a Bearer value (AKOOL never documents that this works)
    # When quota/info is called
    answer = akool.get(QUOTA, auth={"Authorization": f"Bearer {KEY_32}"}).json()
    # Then it is refused with 1101
    assert answer["code"] == 1101


def test_get_token_gives_a_working_bearer_token(akool: Akool) -> None:
    # Given the clientId and clientSecret (= API key)
    resp = akool.post(TOKEN, {"clientId": CLIENT_ID, "clientSecret": KEY_32}, auth={})
    answer = resp.json()
    # When getToken answers
    # Then the token is at the top level, not under data
    assert resp.status_code == 200
    assert answer["code"] == 1000
    assert set(answer) == {"code", "token"}
    token = answer["token"]
    assert token.count(".") == 2  # a JWT, like AKOOL's example
    # And it works as a Bearer token, even with a wrong x-api-key next to it
    ok = akool.get(QUOTA, auth={"Authorization": f"Bearer {token}", "x-api-key": "wrong"}).json()
    assert ok["code"] == 1000


def test_tampered_token_is_1101(akool: Akool) -> None:
    # Given a token from getToken with its signature changed
    token = akool.post(TOKEN, {"clientId": CLIENT_ID, "clientSecret": KEY_32}, auth={}).json()["token"]
    head, claims, sig = token.split(".")
    forged = f"{head}.{claims}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    # When it is used
    answer = akool.get(QUOTA, auth={"Authorization": f"Bearer {forged}"}).json()
    # Then it is refused
    assert answer["code"] == 1101


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"clientId": CLIENT_ID, "clientSecret": "wrong-secret"}, 1101),
        ({"clientId": "someone-else", "clientSecret": KEY_32}, 1101),
        ({"clientId": CLIENT_ID}, 1102),
        ({}, 1102),
    ],
)
def test_get_token_errors(akool: Akool, body: dict[str, str], code: int) -> None:
    # Given wrong or missing credentials
    # When getToken is called
    answer = akool.post(TOKEN, body, auth={}).json()
    # Then the documented code comes back, with no token
    assert answer["code"] == code
    assert "token" not in answer
