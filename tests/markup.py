"""What the page shows, read back for tests: a chat message's Markdown as the text a person sees, and the chat
tab's HTML tables as data frames."""

from __future__ import annotations

import html
import io
import re

import pandas as pd
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"breaks": True})  # CommonMark, as the page's renderer; single newlines break
_TAG = re.compile(r"<[^>]+>")


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer makes of `markdown` (what the chat's renderer turns it into)."""
    return _MARKDOWN.render(markdown)


def shown_text(markdown: str) -> str:
    """The text a person reads once `markdown` is rendered: tags dropped, entities decoded, no-break spaces as
    spaces, surrounding blank space trimmed."""
    return html.unescape(_TAG.sub("", rendered(markdown))).replace("\u00a0", " ").strip()


def table(page_html: str) -> pd.DataFrame:
    """The one table in a chat tab panel's HTML (view.table_html), as a data frame."""
    return pd.read_html(io.StringIO(page_html), flavor="lxml")[0]
