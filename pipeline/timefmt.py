"""Timestamps: parse "1:00:50" / "00:15:27.120" / "15:27" and format seconds back."""

from __future__ import annotations

import calendar
import re

_TS = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?$")


def parse_timestamp(text: str) -> float:
    """'1:00:50' -> 3650.0; '15:27' -> 927.0; '00:15:27.120' -> 927.12. Raises ValueError."""
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"not a timestamp: {text!r}")
    hours, minutes, seconds, frac = m.groups()
    if int(minutes) >= 60 and hours is not None or int(seconds) >= 60:
        raise ValueError(f"not a timestamp: {text!r}")
    value = float(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds))
    if frac:
        value += int(frac.ljust(3, "0")) / 1000
    return value


def format_timestamp(seconds: float) -> str:
    """3650.4 -> '1:00:50'; 927 -> '15:27' (no hours part under an hour)."""
    total = int(max(0.0, float(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_clock(seconds: float, sep: str = ".") -> str:
    """927.12 -> '00:15:27.120' (WebVTT); with sep=',' the SRT form."""
    ms = int(round(max(0.0, float(seconds)) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


MONTHS: dict[str, int] = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
"""Month names and abbreviations, lower case ("may", "sep", "september") -> 1-12."""
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_name) if m})
