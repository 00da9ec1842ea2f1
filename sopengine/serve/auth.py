"""API tokens with scopes, kept only as hashes; webhook signatures (``X-Hub-Signature``).

A token file holds one JSON object per line: ``{"name": ..., "sha256": <hex of the token>, "scopes": [...]}``.
Tokens are 32 random bytes (:func:`new_token`), so a plain SHA-256 is enough to keep them: there is no
password to guess, and a slow hash (scrypt) would only slow every request down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import UsageError

SCOPES = ("ingest", "read", "admin")  # admin may do everything


@dataclass(frozen=True)
class TokenEntry:
    name: str
    sha256: str
    scopes: frozenset[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "sopen_" + secrets.token_urlsafe(32)


class Tokens:
    """The tokens a service accepts."""

    def __init__(self, entries: Iterable[TokenEntry] = ()):
        self._by_hash = {e.sha256: e for e in entries}

    def __len__(self) -> int:
        return len(self._by_hash)

    def find(self, token: str) -> TokenEntry | None:
        digest = token_hash(token)
        entry = self._by_hash.get(digest)
        # the lookup is by hash of a random token: its timing tells nothing about a stored token
        return entry if entry is not None and hmac.compare_digest(entry.sha256, digest) else None

    @staticmethod
    def load(path: str | Path) -> "Tokens":
        entries = []
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"--token-file {path}: cannot read ({exc.strerror or exc})") from None
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
                scopes = frozenset(obj["scopes"])
                entry = TokenEntry(str(obj.get("name", f"line {n}")), str(obj["sha256"]).lower(), scopes)
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{n}: a token is a JSON object with sha256 and scopes ({exc})") from None
            unknown = scopes - set(SCOPES)
            if unknown or len(entry.sha256) != 64:
                raise UsageError(f"{path}:{n}: " + (f"unknown scope {sorted(unknown)[0]!r}; scopes: "
                                                    f"{', '.join(SCOPES)}" if unknown else "sha256 must be 64 hex digits"))
            entries.append(entry)
        return Tokens(entries)


def add_token(path: str | Path, name: str, scopes: Iterable[str]) -> str:
    """Make a token, append its hash to the token file (created with mode 0600) and return the token: it is
    shown once and stored nowhere."""
    token = new_token()
    line = json.dumps({"name": name, "sha256": token_hash(token), "scopes": sorted(set(scopes))})
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return token


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The token of a request: ``Authorization: Bearer TOKEN``, or Basic with the token as password (for a
    browser showing the worklist page)."""
    value = headers.get("authorization", "")
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    if scheme.lower() == "basic" and rest.strip():
        try:
            _, _, password = base64.b64decode(rest.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or None
    return None


def allows(entry: TokenEntry, scope: str) -> bool:
    return scope in entry.scopes or "admin" in entry.scopes


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature: sha256=<hex>``, an HMAC-SHA256 of the body with the webhook's shared secret (as the
    issue tracker's and the code host's webhooks sign), compared in constant time."""
    if not header:
        return False
    method, _, given = header.partition("=")
    if method.strip().lower() != "sha256":
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
