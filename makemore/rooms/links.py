"""The addresses a room hands out: the join link students open (the app's address with ?room=CODE)
and the teacher's link, which also carries the teacher key.

The app's address is MAKEMORE_APP_URL when set (a classroom server's public address, a Community
Cloud app's URL), else Streamlit's default on this machine. The app takes the teacher key out of the
address bar as soon as it has read it, so it never stays in a URL that a projector shows.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode, urlsplit, urlunsplit

DEFAULT_APP_URL = "http://localhost:8501"
ROOM_PARAM = "room"
TEACHER_PARAM = "teacher"


def app_url() -> str:
    return os.environ.get("MAKEMORE_APP_URL", "").strip() or DEFAULT_APP_URL


def _with_query(base: str, params: dict[str, str]) -> str:
    parts = urlsplit(base)
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(params), ""))


def join_url(code: str, base: str | None = None) -> str:
    """The link a student opens to join: the app's address with ?room=CODE."""
    return _with_query(base or app_url(), {ROOM_PARAM: code})


def teacher_url(code: str, teacher_key: str, base: str | None = None) -> str:
    """The teacher's own link: the join link with the teacher key (for the teacher alone)."""
    return _with_query(base or app_url(), {ROOM_PARAM: code, TEACHER_PARAM: teacher_key})
