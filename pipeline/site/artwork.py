"""The podcast's channel image when the project configures none: ``static/artwork.png``, a 1400 px
square PNG (Apple's minimum) drawn here, byte-identical on every build.

Drawn with zlib and the PNG chunk format by hand: the image is a flat background with a waveform of
bars, so a few rows of bytes repeated are the whole image (no imaging library is installed; Pillow
would be one more dependency for one flat picture).
"""

from __future__ import annotations

import struct
import zlib

SIZE = 1400
BACKGROUND = (0x1F, 0x3A, 0x5F)
BARS = (0xF2, 0xB1, 0x34)
# bar heights (fraction of half the image), a waveform's outline
_HEIGHTS = (0.12, 0.22, 0.35, 0.5, 0.3, 0.62, 0.8, 0.55, 0.7, 0.42, 0.26, 0.48, 0.33, 0.18, 0.1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def artwork_png(size: int = SIZE) -> bytes:
    """The default artwork: bars of a waveform centred on a flat background."""
    bg, fg = bytes(BACKGROUND), bytes(BARS)
    n = len(_HEIGHTS)
    slot = size * 0.7 / n
    left = size * 0.15
    spans = [(int(left + i * slot + slot * 0.2), int(left + (i + 1) * slot - slot * 0.2)) for i in range(n)]
    rows = []
    centre = size / 2
    for y in range(size):
        reach = abs(y + 0.5 - centre) / (size / 2)
        row = bytearray(bg * size)
        for (x0, x1), h in zip(spans, _HEIGHTS, strict=True):
            if reach <= h * 0.9:
                row[x0 * 3:x1 * 3] = fg * (x1 - x0)
        rows.append(b"\x00" + bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))
