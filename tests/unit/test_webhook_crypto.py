"""webhook_crypto: AKOOL's signature and AES-CBC scheme (docs/akool.md §5), against vectors computed outside
this code and against the openssl command line (tests/akool_oracle.py)."""

from __future__ import annotations

import pytest

from devkit.credentials import TEST_API_KEY, TEST_CLIENT_ID
from dropswap.domain import webhook_crypto as wc
from tests import akool_oracle as oracle

PAYLOAD = {"_id": "6593c94c0ef703e8c055e3c8", "status": 3, "type": "faceswap", "url": "https://example.com/final.jpg"}
PLAINTEXT = '{"_id":"6593c94c0ef703e8c055e3c8","status":3,"type":"faceswap","url":"https://example.com/final.jpg"}'
CLIENT_ID = "64db241f6d9e5c4bd136c187"
TIMESTAMP = 1710757981609
NONCE = "1529"

AES192_SECRET = "0123456789abcdefghijklmn"
AES192_DATA = (
    "O2/XnB58VVcXf5uKOyeHCWsMCwFqHPyfgEAnzD/YK39pQlqGcJ9NULd+WfnSSuFyWfawmkQ4SkzOF8uXLb6dndz9iezHBwXXWXYwYq"
    "yH+dOOr5aXgoDGXbVEBCmmc/8GhhjmuX6YcZNlQVJwF1qX6g=="
)
AES192_SIG = "373fbc72b43b4a6b02087bba1070d10e58b13d7c"
AES256_SECRET = "0123456789abcdefghijklmnopqrstuv"
AES256_DATA = (
    "ckxLxhgGcgyRMUXNVThAIVRYuKn/1Q43Ncsi1IhdHF2fn4hL1R2UeYWH/RR103yRT0x52gQHa5qX2uTiPpT445zUNaFPCrBDZlitqd"
    "GGwH0lrHN0eYVxaknVhYPetn0LhRZjF5Q7IykF+rmky7yGVQ=="
)
AES256_SIG = "04ea303cd8c0607758da7e29ff6e3292ccf40168"

# AKOOL's own published sample (placeholder credentials): it does not verify and must be rejected.
DOC_CLIENT_ID = "AKDt8rWEczpYPzCGur2xE="
DOC_SECRET = "nmwUjMAK0PJpl0MOiXLOOOwZADm0gkLo"
DOC_SIGNATURE = "04e30dd43d9d8f95dd7c127dad617f0929d61c1d"
DOC_DATA = (
    "LuG1OVSVIwOO/xpW00eSYo77Ncxa9h4VKmOJRjwoyoAmCIS/8FdJRJ+BpZn90BVAAg8xpU1bMmcDlAYDT010Wa9tNi1jivX25Ld03iA4EKs="
)


@pytest.mark.parametrize("secret", ["0123456789abcdef", AES192_SECRET, AES256_SECRET])
def test_given_16_24_32_byte_secret_when_encrypted_then_decrypts_to_same_payload(secret: str) -> None:
    # Given a payload and a 16-, 24- or 32-byte API key
    # When it is encrypted and decrypted again
    data = wc.encrypt(PAYLOAD, CLIENT_ID, secret)
    # Then the payload comes back unchanged
    assert wc.decrypt(data, CLIENT_ID, secret) == PAYLOAD


@pytest.mark.parametrize(
    ("secret", "data", "sig"),
    [(AES192_SECRET, AES192_DATA, AES192_SIG), (AES256_SECRET, AES256_DATA, AES256_SIG)],
    ids=["aes-192", "aes-256"],
)
def test_given_spec_vectors_when_encrypting_and_signing_then_match_exactly(
    secret: str, data: str, sig: str
) -> None:
    # Given the spec's self-generated AES-192 / AES-256 vectors
    # When the plaintext is encrypted and signed
    produced = wc.encrypt(PLAINTEXT, CLIENT_ID, secret)
    # Then ciphertext and signature are byte-identical, and the vector decrypts and verifies
    assert produced == data
    assert wc.signature(CLIENT_ID, TIMESTAMP, NONCE, data) == sig
    assert wc.signature_matches(CLIENT_ID, TIMESTAMP, NONCE, data, sig)
    assert wc.signature_matches(CLIENT_ID, str(TIMESTAMP), int(NONCE), data, sig)  # number or string
    assert wc.decrypt(data, CLIENT_ID, secret) == PAYLOAD


def test_given_akool_doc_sample_then_signature_and_decryption_both_fail() -> None:
    # Given the sample webhook published in AKOOL's docs (placeholder credentials)
    # When it is verified and decrypted
    # Then the signature does not match and the ciphertext does not decrypt to JSON
    assert not wc.signature_matches(DOC_CLIENT_ID, TIMESTAMP, NONCE, DOC_DATA, DOC_SIGNATURE)
    computed = wc.signature(DOC_CLIENT_ID, TIMESTAMP, NONCE, DOC_DATA)
    assert computed == "4e1d22f8037c2647d3616692829492f41dbf0a56" != DOC_SIGNATURE
    with pytest.raises(wc.WebhookCryptoError):
        wc.decrypt(DOC_DATA, DOC_CLIENT_ID, DOC_SECRET)


def test_given_built_callback_when_one_field_changes_then_signature_fails() -> None:
    # Given a callback built with the test credentials
    body = wc.build_callback(PAYLOAD, TEST_CLIENT_ID, TEST_API_KEY, TIMESTAMP, NONCE)
    data, sig = body["dataEncrypt"], body["signature"]
    assert wc.signature_matches(TEST_CLIENT_ID, body["timestamp"], body["nonce"], data, sig)
    # When the timestamp, the nonce or the client id differs, Then the signature does not match
    assert not wc.signature_matches(TEST_CLIENT_ID, TIMESTAMP + 1, NONCE, data, sig)
    assert not wc.signature_matches(TEST_CLIENT_ID, TIMESTAMP, "1530", data, sig)
    assert not wc.signature_matches("x" + TEST_CLIENT_ID, TIMESTAMP, NONCE, data, sig)


@pytest.mark.parametrize(
    "data", ["not base64!!", "QUJD", wc.encrypt(PAYLOAD, CLIENT_ID, AES256_SECRET)[:-8] + "AAAAAAA="]
)
def test_given_garbage_or_wrong_key_ciphertext_when_decrypted_then_crypto_error(data: str) -> None:
    # Given text that is not base64, not whole blocks, or altered ciphertext
    # When decrypted, Then WebhookCryptoError (never a crash or garbage accepted)
    with pytest.raises(wc.WebhookCryptoError):
        wc.decrypt(data, CLIENT_ID, AES256_SECRET)


def test_given_wrong_key_when_decrypting_then_crypto_error() -> None:
    # Given a payload encrypted with one key, When decrypted with another, Then it is refused
    data = wc.encrypt(PAYLOAD, CLIENT_ID, AES256_SECRET)
    with pytest.raises(wc.WebhookCryptoError):
        wc.decrypt(data, CLIENT_ID, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")


# -- against an independent implementation: openssl, and AKOOL's recipe rewritten (tests/akool_oracle.py) --
@pytest.mark.parametrize(
    ("secret", "data", "sig"),
    [(AES192_SECRET, AES192_DATA, AES192_SIG), (AES256_SECRET, AES256_DATA, AES256_SIG)],
    ids=["aes-192", "aes-256"],
)
def test_given_spec_vectors_when_checked_with_openssl_then_they_hold(
    secret: str, data: str, sig: str
) -> None:
    # Given the spec's vectors, computed outside this project's code
    # When openssl decrypts and encrypts, and the recipe signs
    # Then they give the spec's plaintext, ciphertext and signature (so the oracle is right)
    assert oracle.decrypt_text(data, CLIENT_ID, secret) == PLAINTEXT
    assert oracle.encrypt_text(PLAINTEXT, CLIENT_ID, secret) == data
    assert oracle.signature(CLIENT_ID, TIMESTAMP, NONCE, data) == sig


def test_given_akool_doc_sample_when_checked_with_openssl_then_it_fails_there_too() -> None:
    # Given AKOOL's published sample, When openssl decrypts it and the recipe signs it
    # Then neither checks out (placeholder credentials), as with webhook_crypto
    with pytest.raises(oracle.OracleRefused):
        oracle.decrypt(DOC_DATA, DOC_CLIENT_ID, DOC_SECRET)
    assert oracle.signature(DOC_CLIENT_ID, TIMESTAMP, NONCE, DOC_DATA) != DOC_SIGNATURE


@pytest.mark.parametrize("secret", ["0123456789abcdef", AES192_SECRET, AES256_SECRET])
@pytest.mark.parametrize(
    "client_id", [CLIENT_ID, "short-id", "\u00e9" * 10], ids=["24-bytes", "8-nul-padded", "20-utf8"]
)
def test_given_any_key_size_and_client_id_when_encrypting_then_openssl_agrees_both_ways(
    secret: str, client_id: str
) -> None:
    # Given a 16/24/32-byte key and a clientId longer than, shorter than or multibyte past 16 bytes
    # When webhook_crypto encrypts and signs
    produced = wc.encrypt(PLAINTEXT, client_id, secret)
    # Then openssl produces the same ciphertext and reads it back, webhook_crypto reads openssl's,
    # and the signature equals the recipe's
    assert produced == oracle.encrypt_text(PLAINTEXT, client_id, secret)
    assert oracle.decrypt_text(produced, client_id, secret) == PLAINTEXT
    assert wc.decrypt(oracle.encrypt_text(PLAINTEXT, client_id, secret), client_id, secret) == PAYLOAD
    assert wc.signature(client_id, TIMESTAMP, NONCE, produced) == oracle.signature(
        client_id, TIMESTAMP, NONCE, produced
    )
