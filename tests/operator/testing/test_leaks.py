"""The secret scanner the hygiene test relies on finds a planted secret in every form a leak
takes, and nothing where there is none: a scan that cannot fail would prove nothing."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from neon_operator.testing import leaks

pytestmark = pytest.mark.unit

PASSWORD = "npg_Zx8Q1wErTy42"
URI = f"postgresql://app:{PASSWORD}@ep-cool-1.example:5432/neondb?sslmode=require"


def test_a_secret_is_found_plain_percent_encoded_and_base64() -> None:
    texts = {
        "log": f"DEBUG connecting with {PASSWORD} now",
        "event": "uri=" + urllib.parse.quote(URI, safe=""),
        "status": json.dumps({"data": {"DATABASE_URL": base64.b64encode(URI.encode()).decode()}}),
    }
    found = leaks.find({"password": PASSWORD, "uri": URI}, texts)
    assert {(leak.label, leak.where) for leak in found} == {
        ("password", "log"),
        ("uri", "event"),
        ("password", "event"),  # plain inside the percent-encoded URI
        ("uri", "status"),
        ("password", "status"),  # inside the encoded URI
    }
    assert all(PASSWORD not in str(leak) for leak in found)


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", '{"k": "'])
def test_a_secret_inside_a_larger_base64_blob_is_found_at_every_alignment(prefix: str) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        blob = encode(f"{prefix}{PASSWORD}, and more".encode()).decode()
        found = leaks.find({"password": PASSWORD}, {"blob": blob})
        assert [leak.label for leak in found] == ["password"], (prefix, blob)


def test_other_text_and_short_values_are_not_reported() -> None:
    texts = {
        "log": "INFO NeonAppDatabase ready; PGPORT 5432; " + base64.b64encode(b"x" * 40).decode()
    }
    assert leaks.find({"password": PASSWORD, "port": "5432"}, texts) == []
