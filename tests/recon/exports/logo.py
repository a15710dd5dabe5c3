"""A small logo for statement tests: a real PNG drawn with Pillow (what a person uploads on Settings)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def png_logo() -> bytes:
    """A 240 x 80 PNG: a navy block with a teal bar, so a rendered statement shows where it sits."""
    image = Image.new("RGB", (240, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 79, 79), fill="#1F3A5F")
    draw.rectangle((92, 28, 236, 52), fill="#2A9D8F")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
