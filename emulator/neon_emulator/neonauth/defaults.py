"""The configuration a new Neon Auth integration starts with, in the API's shapes (the spec's
defaults where it states them: ``NeonAuthOrganizationConfig``, ``NeonAuthMagicLinkConfig``,
``NeonAuthPhoneNumberConfig``, ``NeonAuthWebhookConfig``)."""

from __future__ import annotations

from typing import Any

OAUTH_PROVIDERS: list[dict[str, Any]] = [
    {"id": "google", "type": "shared"},
    {"id": "github", "type": "shared"},
]
"""Neon enables Google and GitHub with its shared development keys."""

EMAIL_AND_PASSWORD: dict[str, Any] = {
    "enabled": True,
    "email_verification_method": "otp",
    "require_email_verification": False,
    "auto_sign_in_after_verification": True,
    "send_verification_email_on_sign_up": False,
    "send_verification_email_on_sign_in": False,
    "disable_sign_up": False,
}

EMAIL_PROVIDER: dict[str, Any] = {
    "type": "shared",
    "sender_email": "auth@mail.myneon.app",
    "sender_name": "Neon Auth",
}

ORGANIZATION: dict[str, Any] = {
    "enabled": True,
    "organization_limit": 10,
    "membership_limit": 100,
    "creator_role": "owner",
    "send_invitation_email": False,
}

MAGIC_LINK: dict[str, Any] = {"enabled": False, "expires_in": 5, "disable_sign_up": False}

PHONE_NUMBER: dict[str, Any] = {"enabled": False, "otp_expires_in": 300}

WEBHOOKS: dict[str, Any] = {"enabled": False, "enabled_events": [], "timeout_seconds": 5}


def configuration() -> dict[str, Any]:
    """Fresh copies of every default, keyed by the record's field names."""
    return {
        "oauth_providers": [dict(p) for p in OAUTH_PROVIDERS],
        "email_and_password": dict(EMAIL_AND_PASSWORD),
        "email_provider": dict(EMAIL_PROVIDER),
        "organization": dict(ORGANIZATION),
        "magic_link": dict(MAGIC_LINK),
        "phone_number": dict(PHONE_NUMBER),
        "webhooks": {**WEBHOOKS, "enabled_events": []},
    }
