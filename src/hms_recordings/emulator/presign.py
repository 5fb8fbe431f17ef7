"""Presigned download URLs that really work, served by the emulator itself.

A URL is ``{base}/_emulator/download/{asset_id}?expires={epoch}&signature={hex}`` where the signature is
HMAC-SHA256 over ``asset_id`` and ``expires`` with a key derived from the app secret (so a restarted emulator with the
same secret still honours its URLs, and nobody without the secret can forge one). Expiry is checked on the emulator
clock. The default duration is 3 days and the ceiling 604800 s, as S3 SigV4 (reference §4.11).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from .responses import ApiError

__all__ = ["DEFAULT_PRESIGN_SECONDS", "MAX_PRESIGN_SECONDS", "Presigner", "parse_presign_duration"]

DEFAULT_PRESIGN_SECONDS = 3 * 86_400
MAX_PRESIGN_SECONDS = 604_800
DOWNLOAD_PREFIX = "/_emulator/download/"


def parse_presign_duration(raw: str | None) -> int:
    """``presign_duration`` as seconds in 1..604800; absent means 3 days; anything else is a 400."""
    if raw is None:
        return DEFAULT_PRESIGN_SECONDS
    text = raw.strip()
    if not (text.isascii() and text.lstrip("+-").isdigit() and len(text) <= 12):
        raise ApiError(400, "invalid input", ["presign_duration must be an integer number of seconds"])
    value = int(text)
    if not 1 <= value <= MAX_PRESIGN_SECONDS:
        raise ApiError(400, "invalid input", [f"presign_duration must be between 1 and {MAX_PRESIGN_SECONDS} seconds"])
    return value


class Presigner:
    """Signs and checks download URLs for assets."""

    def __init__(self, app_secret: str) -> None:
        self._key = hashlib.sha256(b"hms-emulator-presign\x00" + app_secret.encode()).digest()

    def signature(self, asset_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{asset_id}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, base_url: str, asset_id: str, expires: int) -> str:
        sig = self.signature(asset_id, expires)
        return f"{base_url.rstrip('/')}{DOWNLOAD_PREFIX}{quote(asset_id)}?expires={expires}&signature={sig}"

    def check(self, asset_id: str, expires_raw: str | None, signature: str | None, now: float) -> None:
        """Raise a 403 unless the pair was signed by us for this asset and has not expired."""
        if not (expires_raw and signature and expires_raw.isascii() and expires_raw.isdigit() and signature.isascii()):
            raise ApiError(403, "request signature is missing or malformed")
        if len(expires_raw) > 12 or not hmac.compare_digest(self.signature(asset_id, int(expires_raw)), signature):
            raise ApiError(403, "request signature does not match")
        if now >= int(expires_raw):
            raise ApiError(403, "request has expired")
