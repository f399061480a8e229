"""A room's links: the join link is the app's address with ?room=CODE; the teacher's adds the
teacher key (the app takes it out of the address bar as soon as it has read it, so that a projector
never shows it)."""

from __future__ import annotations

import os
from urllib.parse import urlencode

DEFAULT_APP_URL = "http://localhost:8501"


def app_url(url: str | None = None) -> str:
    return (url or os.environ.get("MAKEMORE_APP_URL") or DEFAULT_APP_URL).rstrip("/")


def join_url(code: str, url: str | None = None) -> str:
    return f"{app_url(url)}/?{urlencode({'room': code})}"


def teacher_url(code: str, key: str, url: str | None = None) -> str:
    return f"{app_url(url)}/?{urlencode({'room': code, 'teacher': key})}"
