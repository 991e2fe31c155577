"""AKOOL credentials from Secrets Manager: one JSON secret {"clientId": "...", "apiKey": "..."}.

Read through Powertools Parameters, cached for a few minutes so a warm function does not call
Secrets Manager per event, while a rotated key is picked up without a redeploy.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from dropswap.domain.akool import AkoolCredentials

CACHE_SECONDS = 300


class CredentialsError(Exception):
    """The secret is missing or not of the documented shape (the message never contains its value)."""




def parse_secret(value: Any) -> AkoolCredentials:
    if not isinstance(value, dict):
        raise CredentialsError('AKOOL secret must be a JSON object {"clientId": ..., "apiKey": ...}')
    client_id, api_key = value.get("clientId"), value.get("apiKey")
    if not isinstance(client_id, str) or not client_id or not isinstance(api_key, str) or not api_key:
        raise CredentialsError('AKOOL secret needs non-empty string fields "clientId" and "apiKey"')
    return AkoolCredentials(client_id=client_id, api_key=api_key)


def load_credentials(secret_id: str, *, force_fetch: bool = False) -> AkoolCredentials:
    if not secret_id:
        raise CredentialsError("AKOOL_SECRET_ID is not set")
    value = parameters.get_secret(secret_id, transform="json", max_age=CACHE_SECONDS, force_fetch=force_fetch)
    return parse_secret(value)


def forget_cached() -> None:
    """Drop the cached secret value and the provider's Secrets Manager client (SnapStart: the key is read
    again after a restore, never carried in the snapshot)."""
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
