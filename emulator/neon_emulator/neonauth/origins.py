"""Which URLs the auth server may redirect to or accept requests from: Better Auth's
``trustedOrigins``, as Neon configures them per branch.

Trusted are the auth server's own origin, every trusted domain of the integration (``POST
…/auth/domains``: ``https://app.example.com``, ``https://*.example.com``; a domain without a
scheme matches ``https`` only) and, while ``allow_localhost`` is on, any port of ``localhost``,
``127.0.0.1`` and ``[::1]``. Relative URLs (``/dashboard``) stay on the app and are trusted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from neon_emulator import records

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _pattern(domain: str) -> tuple[str | None, str, int | None]:
    parts = urlsplit(domain if "://" in domain else f"https://{domain}")
    return parts.scheme or None, (parts.hostname or "").lower(), parts.port


def _matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return host == pattern


def trusted(auth: records.NeonAuth, own_origin: str, url: str) -> bool:
    if url.startswith("/") and not url.startswith("//"):
        return True
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if f"{parts.scheme}://{parts.netloc}".lower() == own_origin.lower():
        return True
    if auth.allow_localhost and host in LOCAL_HOSTS:
        return True
    for entry in auth.domains:
        scheme, pattern, wanted_port = _pattern(str(entry.get("domain", "")))
        if scheme is not None and scheme != parts.scheme:
            continue
        if wanted_port is not None and wanted_port != port:
            continue
        if pattern and _matches(pattern, host):
            return True
    return False
