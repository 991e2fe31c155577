"""AKOOL's callback cryptography computed without dropswap.domain.webhook_crypto, for tests that check
its output.

The emulator builds callbacks with dropswap.domain.webhook_crypto and the WebhookFunction verifies them
with it, so a test using that module on both ends would pass with a bug they share. Here the signature is
rewritten from AKOOL's recipe (docs/akool.md) and AES-CBC is done by the `openssl` command line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from typing import Any

_CIPHERS = {16: "aes-128-cbc", 24: "aes-192-cbc", 32: "aes-256-cbc"}


class OracleRefused(AssertionError):
    """openssl could not decrypt (wrong key or IV, bad padding) or the plaintext is not a JSON object."""


def signature(client_id: str, timestamp: int | str, nonce: int | str, data_encrypt: str) -> str:
    """sha1 of the four values as text, sorted and joined with nothing between them; lowercase hex."""
    joined = "".join(sorted([client_id, str(timestamp), str(nonce), data_encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324 - AKOOL's scheme


def _openssl(client_id: str, api_key: str, *, decrypt: bool) -> list[str]:
    key = api_key.encode("utf-8")
    iv = client_id.encode("utf-8")[:16].ljust(16, b"\0")  # AKOOL's sample truncates or NUL-pads
    mode = "-d" if decrypt else "-e"
    cipher = f"-{_CIPHERS[len(key)]}"
    return ["openssl", "enc", mode, cipher, "-K", key.hex(), "-iv", iv.hex(), "-base64", "-A"]


@functools.lru_cache(maxsize=256)  # tests poll the same callbacks over and over
def decrypt_text(data_encrypt: str, client_id: str, api_key: str) -> str:
    """The plaintext of a dataEncrypt, as openssl decrypts it (PKCS#7 checked)."""
    done = subprocess.run(
        _openssl(client_id, api_key, decrypt=True), input=data_encrypt.encode("ascii"), capture_output=True,
        check=False, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        raise OracleRefused(f"openssl could not decrypt: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8")


def encrypt_text(plaintext: str, client_id: str, api_key: str) -> str:
    """base64 of AES-CBC(PKCS#7) of the plaintext, as openssl encrypts it."""
    done = subprocess.run(
        _openssl(client_id, api_key, decrypt=False), input=plaintext.encode("utf-8"), capture_output=True,
        check=True,
        timeout=30,
    )  # fmt: skip
    return done.stdout.decode("ascii").strip()


def decrypt(data_encrypt: str, client_id: str, api_key: str) -> dict[str, Any]:
    text = decrypt_text(data_encrypt, client_id, api_key)
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise OracleRefused(f"decrypted text is not JSON: {text[:40]!r}") from exc
    if not isinstance(payload, dict):
        raise OracleRefused("decrypted JSON is not an object")
    return payload
