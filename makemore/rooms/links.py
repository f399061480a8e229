"""The addresses a room hands out: the join link students open (the app's address with ?room=CODE)
and the teacher's link, which also carries the teacher key.

The app's address is MAKEMORE_APP_URL when set (a classroom server's public address, a Community
Cloud app's URL), else Streamlit's default on this machine. The app takes the teacher key out of the
address bar as soon as it has read it, so it never stays in a URL that a projector shows.

A posted run keeps its page and query ("stages/mlp.py?mlp_hidden=64"); page_url makes it an address
on the app's. local_only says when an address is one the class's devices cannot open (localhost, a
bare host name), so that a page can warn the teacher before the code goes up on the projector.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import PurePosixPath
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


def page_url(link: str, base: str | None = None) -> str:
    """A posted run's link as a full address: ("stages/mlp.py?a=1", "http://10.0.0.5:8501") ->
    "http://10.0.0.5:8501/mlp?a=1". Streamlit serves a page at its file's stem under the app's address."""
    if urlsplit(link).scheme:  # already an address
        return link
    page, _, query = link.partition("?")
    stem = PurePosixPath(page).stem
    return (base or app_url()).rstrip("/") + "/" + stem + (f"?{query}" if query else "")


def local_only(base: str) -> str | None:
    """None when the class's devices can open this address; else why not, in words: a loopback
    host (this computer only) or a host name with no dot (known on this network's router at best)."""
    try:
        host = urlsplit(base if "//" in base else f"//{base}").hostname
    except ValueError:
        host = None
    if not host or any(c.isspace() for c in host):
        return f"{base!r} is not a web address a student's device can open."
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this computer's own name: a student's device that opens it reaches itself, not this app."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            return (f"{host!r} is a name without a domain, which most students' phones and laptops cannot look up: "
                    "use this server's address on the network (such as 192.168.1.20) instead.")
        return None
    if address.is_loopback or address.is_unspecified:
        return f"{host} is this computer's own address: a student's device that opens it reaches itself, not this app."
    return None
