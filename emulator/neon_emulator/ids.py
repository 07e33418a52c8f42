"""Identifiers, secrets and LSNs in the formats Neon uses.

Project ids look like ``cold-bonus-61650555``; branch, endpoint, snapshot ids like
``br-green-mode-a5e3fl9y`` (the first two characters of the suffix repeat per region, as on Neon);
organization ids like ``org-royal-sun-91776391``; operation ids are UUIDs; API keys are ``napi_``
plus 64 lowercase alphanumerics; role passwords ``npg_`` plus 12 alphanumerics.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable

ADJECTIVES = [
    "aged",
    "ancient",
    "autumn",
    "billowing",
    "bitter",
    "black",
    "blue",
    "bold",
    "broad",
    "calm",
    "cold",
    "cool",
    "crimson",
    "curly",
    "damp",
    "dark",
    "dawn",
    "delicate",
    "divine",
    "dry",
    "empty",
    "falling",
    "fancy",
    "flat",
    "floral",
    "fragrant",
    "frosty",
    "gentle",
    "green",
    "hidden",
    "holy",
    "icy",
    "jolly",
    "late",
    "lingering",
    "little",
    "lively",
    "long",
    "lucky",
    "misty",
    "morning",
    "muddy",
    "mute",
    "nameless",
    "noisy",
    "odd",
    "old",
    "orange",
    "patient",
    "plain",
    "polished",
    "proud",
    "purple",
    "quiet",
    "rapid",
    "raspy",
    "red",
    "restless",
    "rough",
    "round",
    "royal",
    "shiny",
    "shy",
    "silent",
    "small",
    "snowy",
    "soft",
    "solitary",
    "sparkling",
    "spring",
    "square",
    "steep",
    "still",
    "summer",
    "super",
    "sweet",
    "throbbing",
    "tight",
    "tiny",
    "twilight",
    "wandering",
    "weathered",
    "white",
    "wild",
    "winter",
    "wispy",
    "withered",
    "yellow",
    "young",
]

NOUNS = [
    "band",
    "bar",
    "base",
    "bird",
    "block",
    "boat",
    "bonus",
    "bread",
    "breeze",
    "brook",
    "bush",
    "butterfly",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "credit",
    "darkness",
    "dawn",
    "dew",
    "disk",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "glitter",
    "grass",
    "hall",
    "hat",
    "haze",
    "heart",
    "hill",
    "king",
    "lab",
    "lake",
    "leaf",
    "limit",
    "math",
    "meadow",
    "mode",
    "moon",
    "morning",
    "mountain",
    "mouse",
    "mud",
    "night",
    "paper",
    "pine",
    "poetry",
    "pond",
    "queen",
    "rain",
    "recipe",
    "resonance",
    "rice",
    "river",
    "salad",
    "scene",
    "sea",
    "shadow",
    "shape",
    "silence",
    "sky",
    "smoke",
    "snow",
    "snowflake",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "term",
    "thunder",
    "tooth",
    "tree",
    "truth",
    "union",
    "unit",
    "violet",
    "voice",
    "water",
    "waterfall",
    "wave",
    "wildflower",
    "wind",
    "wood",
]

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits

REGION_CELLS = {
    "aws-us-east-1": "a1",
    "aws-us-east-2": "a5",
    "aws-us-west-2": "af",
    "aws-eu-central-1": "a2",
    "aws-eu-west-2": "ab",
    "aws-ap-southeast-1": "a4",
    "aws-ap-southeast-2": "a7",
    "aws-sa-east-1": "ac",
    "azure-eastus2": "ae",
    "azure-westus3": "ag",
    "azure-gwc": "ah",
}


def _words() -> str:
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}"


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def _suffix(region_id: str) -> str:
    cell = REGION_CELLS.get(region_id) or "".join(secrets.choice(_LOWER_ALNUM) for _ in range(2))
    return cell + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(6))


def unique(make: Callable[[], str], taken: Callable[[str], bool]) -> str:
    """Draw ids from ``make`` until one is not ``taken``."""
    while True:
        candidate = make()
        if not taken(candidate):
            return candidate


def project_id() -> str:
    return f"{_words()}-{_digits(8)}"


def organization_id() -> str:
    return f"org-{_words()}-{_digits(8)}"


def branch_id(region_id: str) -> str:
    return f"br-{_words()}-{_suffix(region_id)}"


def endpoint_id(region_id: str) -> str:
    return f"ep-{_words()}-{_suffix(region_id)}"


def snapshot_id(region_id: str) -> str:
    return f"snap-{_words()}-{_suffix(region_id)}"


def operation_id() -> str:
    return str(uuid.uuid4())


def user_id() -> str:
    return str(uuid.uuid4())


def api_key() -> str:
    return "napi_" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(64))


def password() -> str:
    return "npg_" + "".join(secrets.choice(_ALNUM) for _ in range(12))


def token(prefix: str, length: int = 32) -> str:
    """Opaque secrets such as Neon Auth client keys (``pck_…``, ``ssk_…``)."""
    return prefix + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(length))


def format_lsn(value: int) -> str:
    """Postgres LSN text form: ``0/1DE2850``."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """Inverse of :func:`format_lsn`; raises ``ValueError`` on a malformed LSN."""
    high, sep, low = text.partition("/")
    if not sep or not high or not low or len(high) > 8 or len(low) > 8:
        raise ValueError(f"malformed LSN {text!r}")
    try:
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        raise ValueError(f"malformed LSN {text!r}") from None
