"""A long page a student can find their way in: its outline in the sidebar ("On this page", a link
to each section), and the deeper views that follow the results as tabs, so that the page keeps the
lesson's top-to-bottom order, shows every view's name at once, and is a screen or two shorter.

    outline(["1 · Walk the lecture's path", "2 · Train"], views=VIEWS)   # once, near the top
    header("1 · Walk the lecture's path")
    ...
    shapes, bug, inside, how = deeper_views(VIEWS)
    with shapes:
        ...
"""

from __future__ import annotations

import re

import streamlit as st

DEEPER = "Go deeper"  # the header above the tabs


def anchor(title: str) -> str:
    """The header's id in the page's address: "2 · Train" -> "2-train"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def outline(sections: list[str], views: list[str] = (), views_title: str | None = DEEPER) -> None:
    """The page's sections in the sidebar, each a link that scrolls to it; then the tabs of the
    deeper views (a link to their header, when they have one)."""
    lines = [f"- [{title}](#{anchor(title)})" for title in sections]
    if views:
        tabs = " · ".join(views)
        lines.append(f"- [{views_title}](#{anchor(views_title)}), in tabs: {tabs}" if views_title else f"- in tabs: {tabs}")
    st.sidebar.markdown("**On this page**\n\n" + "\n".join(lines))


def header(title: str) -> None:
    """A section's header, with the anchor its link in the outline points to."""
    st.header(title, anchor=anchor(title))


def deeper_views(views: list[str], title: str | None = DEEPER,
                 note: str = "Each tab looks at the trained model from another side; they read in order, left to "
                             "right."):
    """The views' header (none when `title` is None), a note, and one tab each, in the lesson's
    order: their containers."""
    if title:
        st.header(title, anchor=anchor(title))
    st.caption(note)
    return st.tabs(views)
