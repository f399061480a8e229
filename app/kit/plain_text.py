"""Text a person typed, made safe for the elements that read Markdown. A module of its own, without
torch or the models: every page's sidebar (the dataset picker, the class room's line) uses it."""

import re

MARKUP = re.compile(r"([\\`*_\[\]<>#~$|]|:(?=\S))")  # Markdown's marks, HTML, :emoji: and :color[...]
LINE_MARK = re.compile(r"^(\s*)([-+=]|\d+\.)", re.MULTILINE)  # a list or a heading, where a line starts


def plain(text) -> str:
    """Text a person typed (a room's title, a file's name), for an element that reads Markdown (a
    heading, a message, a caption): shown as written, never as markup."""
    return LINE_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2),
                         MARKUP.sub(r"\\\1", str(text)))
