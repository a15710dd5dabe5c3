"""The MSP itself, as its client statements show it: its name, postal address and logo (issue 22 item 5).

Set on the Settings page and kept in the store beside the run settings (``Store.save_company``), but
apart from them: changing the letterhead never makes a run stale. The logo is a PNG or JPEG of at most
``MAX_LOGO_BYTES``, checked here by decoding it (a file that is not such an image is refused with a
message, never written into a PDF).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from recon.errors import SettingsError

MAX_LOGO_BYTES = 1_000_000
MAX_LOGO_PIXELS = 4_000 * 4_000
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
MAX_NAME_CHARS, MAX_ADDRESS_CHARS = 200, 500


@dataclass(frozen=True)
class Company:
    """The statement's letterhead. ``address`` holds its lines separated by newlines; ``logo`` the
    image's bytes (PNG or JPEG) or None."""

    name: str = ""
    address: str = ""
    logo: bytes | None = None

    def __post_init__(self) -> None:
        problems = []
        if len(self.name) > MAX_NAME_CHARS:
            problems.append(f"the company name is longer than {MAX_NAME_CHARS} characters")
        if len(self.address) > MAX_ADDRESS_CHARS:
            problems.append(f"the address is longer than {MAX_ADDRESS_CHARS} characters")
        if problems:
            raise SettingsError("; ".join(problems))
        if self.logo is not None:
            logo_format(self.logo)

    @property
    def address_lines(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.address.splitlines() if line.strip())

    def to_dict(self, logo_sha256: str | None) -> dict[str, Any]:
        """JSON-ready, the logo named by the SHA-256 of its bytes (kept apart, once)."""
        return {"name": self.name, "address": self.address, "logo_sha256": logo_sha256}


def logo_format(content: bytes) -> str:
    """The MIME type of a logo, or ``SettingsError`` saying why it is refused (too large, not a PNG or
    JPEG image, too many pixels)."""
    if len(content) > MAX_LOGO_BYTES:
        raise SettingsError(f"the logo is {len(content):,} bytes; at most {MAX_LOGO_BYTES:,} are accepted")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            kind, pixels = image.format, image.width * image.height
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise SettingsError("the logo is not a PNG or JPEG image that can be read") from error
    if kind not in LOGO_FORMATS:
        raise SettingsError(f"the logo is a {kind} image; upload a PNG or JPEG")
    if pixels > MAX_LOGO_PIXELS:
        raise SettingsError("the logo has more than 16 million pixels; upload a smaller image")
    return LOGO_FORMATS[kind]


__all__ = ["MAX_LOGO_BYTES", "Company", "logo_format"]
