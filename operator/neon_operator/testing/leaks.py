"""Find secrets where they must never be: logs, Events, status, annotations, metrics.

A secret leaks in more than its plain form. A Secret's ``data`` is base64 on the wire, so a
logged Secret body shows its values base64-encoded, and a value inside a larger encoded blob
(a whole ``DATABASE_URL`` encoded, or a JSON document) is encoded at one of three byte
alignments. A password in a URL may be percent-encoded. :func:`forms` gives every string that
betrays one secret; :func:`find` reports where any of them occurs::

    hits = leaks.find({"PGPASSWORD": password}, {"operator.log": log_text})
    assert hits == []

A :class:`Leak` names the secret by its label and the form found, never the value itself, so
the report of a failed check is safe to print.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Iterable, Mapping

__all__ = ["MIN_LENGTH", "Leak", "base64_cores", "find", "forms"]

MIN_LENGTH = 8
"""Shorter values are not searched for: they match by chance (ports, ``true``, ``neondb``)."""


@dataclasses.dataclass(frozen=True)
class Leak:
    """Secret ``label`` found in ``where`` as its ``form`` (``plain``, ``base64`` …)."""

    label: str
    form: str
    where: str
    offset: int

    def __str__(self) -> str:
        return f"{self.label} ({self.form}) in {self.where} at offset {self.offset}"


def base64_cores(value: str) -> list[str]:
    """The characters base64 of any text holding ``value`` surely contains, once for each of
    the three byte alignments ``value`` may start at.

    The first and last characters of an encoded run also carry bits of the neighbouring bytes,
    so only the characters made of ``value``'s bits alone are kept (standard and URL-safe
    alphabets both, since ``+``/``/`` and ``-``/``_`` may differ).
    """
    raw = value.encode()
    cores: list[str] = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw + b"\0\0").decode()
        start_bit, end_bit = 8 * shift, 8 * (shift + len(raw))
        first = -(-start_bit // 6)  # the first character whose 6 bits all come from value
        last = end_bit // 6  # one past the last such character
        core = encoded[first:last]
        if len(core) >= MIN_LENGTH:
            cores.append(core)
    return cores


def forms(value: str) -> dict[str, str]:
    """Every string that betrays ``value``, by the name of its form."""
    found: dict[str, str] = {"plain": value}
    for name, encoded in (
        ("percent-encoded", urllib.parse.quote(value, safe="")),
        ("form-encoded", urllib.parse.quote_plus(value, safe="")),
        ("base64", base64.b64encode(value.encode()).decode()),
        ("base64url", base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")),
    ):
        found.setdefault(name, encoded)
    for shift, core in enumerate(base64_cores(value)):
        found[f"base64 inside a larger value (alignment {shift})"] = core
        found[f"base64url inside a larger value (alignment {shift})"] = core.translate(
            str.maketrans("+/", "-_")
        )
    unique: dict[str, str] = {}
    for name, text in found.items():
        if text not in unique.values():
            unique[name] = text
    return unique


def find(secrets: Mapping[str, str], texts: Mapping[str, str]) -> list[Leak]:
    """Every occurrence of any form of any of ``secrets`` (label → value) in ``texts``
    (where → text). Values shorter than :data:`MIN_LENGTH` are skipped."""
    leaks: list[Leak] = []
    searched = [
        (label, form, needle)
        for label, value in secrets.items()
        if len(value) >= MIN_LENGTH
        for form, needle in forms(value).items()
    ]
    for where, text in texts.items():
        for label, form, needle in searched:
            leaks.extend(Leak(label, form, where, at) for at in _offsets(text, needle))
    return leaks


def _offsets(text: str, needle: str) -> Iterable[int]:
    at = text.find(needle)
    while at >= 0:
        yield at
        at = text.find(needle, at + 1)
