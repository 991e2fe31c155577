"""AKOOL webhook cryptography: the SHA-1 signature and the AES-CBC payload encryption.

One implementation, used by the WebhookFunction to verify and decrypt callbacks and by the local
AKOOL emulator to produce them, so the two can never drift apart (and a bug they would share is caught
by tests that check both against openssl: tests/akool_oracle.py).

AKOOL's documented scheme (docs/akool.md §5):
- signature = sha1("".join(sorted([clientId, str(timestamp), str(nonce), dataEncrypt]))), lowercase hex;
- dataEncrypt = base64(AES-CBC(key=UTF-8 API key, iv=first 16 bytes of clientId, PKCS#7 to 16 bytes)).
The docs contradict themselves on the key length (24 vs 32 characters), so 16-, 24- and 32-byte keys
are all accepted; the IV is the clientId truncated or NUL-padded to 16 bytes, as AKOOL's own sample does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dropswap.domain.untrusted_json import UntrustedJsonError, load_object

_AES_KEY_SIZES = (16, 24, 32)
_BLOCK_BITS = 128
# A decrypted payload is a few short fields; the webhook's body cap bounds it anyway (base64 is 4/3).
_MAX_PAYLOAD_BYTES = 64 * 1024


class WebhookCryptoError(ValueError):
    """The callback's signature or ciphertext does not check out."""


def _key(api_key: str) -> bytes:
    key = api_key.encode("utf-8")
    if len(key) not in _AES_KEY_SIZES:
        # Not a secret we can use as an AES key: say so without echoing it.
        raise WebhookCryptoError(f"API key must be 16, 24 or 32 bytes for AES, got {len(key)} bytes")
    return key


def _iv(client_id: str) -> bytes:
    return client_id.encode("utf-8")[:16].ljust(16, b"\0")


def signature(client_id: str, timestamp: int | str, nonce: int | str, data_encrypt: str) -> str:
    """AKOOL's callback signature: SHA-1 over the four values, stringified, sorted and concatenated."""
    parts = sorted([str(client_id), str(timestamp), str(nonce), str(data_encrypt)])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()  # noqa: S324 - AKOOL's scheme


def signature_matches(
    client_id: str, timestamp: int | str, nonce: int | str, data_encrypt: str, claimed: str
) -> bool:
    """Constant-time comparison of the claimed signature with the one we compute."""
    expected = signature(client_id, timestamp, nonce, data_encrypt)
    return hmac.compare_digest(expected.encode("ascii"), str(claimed).lower().encode("ascii", "replace"))


def encrypt(payload: dict[str, Any] | str, client_id: str, api_key: str) -> str:
    """Encrypt a JSON payload as AKOOL does; returns base64 text."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    padder = padding.PKCS7(_BLOCK_BITS).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(api_key)), modes.CBC(_iv(client_id))).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt(data_encrypt: str, client_id: str, api_key: str) -> dict[str, Any]:
    """Decrypt and parse a callback's dataEncrypt; raises WebhookCryptoError on any failure."""
    try:
        raw = base64.b64decode(data_encrypt, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookCryptoError("dataEncrypt is not valid base64") from exc
    if not raw or len(raw) % 16:
        raise WebhookCryptoError("dataEncrypt is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(_key(api_key)), modes.CBC(_iv(client_id))).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise WebhookCryptoError("dataEncrypt does not decrypt with this key") from exc
    try:
        # Deep nesting, lone surrogates and non-objects included: a payload is only ever a flat object.
        return load_object(plain, max_bytes=_MAX_PAYLOAD_BYTES)
    except UntrustedJsonError as exc:
        raise WebhookCryptoError(f"decrypted payload is not a JSON object we accept: {exc}") from None


def build_callback(
    payload: dict[str, Any], client_id: str, api_key: str, timestamp: int, nonce: str
) -> dict[str, Any]:
    """A complete callback body as AKOOL posts it: {signature, dataEncrypt, timestamp, nonce}."""
    data_encrypt = encrypt(payload, client_id, api_key)
    return {
        "signature": signature(client_id, timestamp, nonce, data_encrypt),
        "dataEncrypt": data_encrypt,
        "timestamp": timestamp,
        "nonce": nonce,
    }
