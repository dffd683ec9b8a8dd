"""Fill a prompt template's ``[PLACEHOLDER]`` marks, all in one pass.

One pass matters: a value inserted for ``[SOURCES]`` may itself contain the
text ``[QUESTION]`` (a document can say anything), and chained
``str.replace`` calls would substitute into it. Here each mark of the
template is replaced once, and inserted text is never scanned again.
"""

from __future__ import annotations

import re

from topictalk.prompts.files import load

# upper-case words in square brackets; "[1]" (a citation in an example) is not one
PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*)\]")


class TemplateError(ValueError):
    """A template and its values disagree: a programming error, not bad user input."""


def placeholders(template: str) -> set[str]:
    """The names of the ``[PLACEHOLDER]`` marks in ``template``."""
    return set(PLACEHOLDER.findall(template))


def _fill(template: str, values: dict[str, object], what: str) -> str:
    wanted = placeholders(template)
    missing, unused = wanted - values.keys(), values.keys() - wanted
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"no value for {', '.join(f'[{m}]' for m in sorted(missing))}")
        if unused:
            parts.append(f"no placeholder for {', '.join(sorted(unused))}")
        raise TemplateError(f"{what}: {'; '.join(parts)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def head(name: str) -> str:
    """The prompt file ``name`` up to its first ``[NAME]`` mark: the text every filling of it starts with,
    which a runtime that keeps what it read can read once, before any value is known."""
    template = load(name)
    mark = PLACEHOLDER.search(template)
    return template[: mark.start()] if mark else template


def fill(name: str, /, **values: object) -> str:
    """The prompt file ``name`` (see :func:`prompts.load`) with every ``[NAME]`` mark
    replaced by ``str(values[NAME])``, e.g.
    ``prompts.fill("label_user", DOCUMENTS=docs, KEYWORDS="a, b")``.

    Raises :class:`TemplateError` when a mark has no value or a value has no
    mark, so a renamed placeholder cannot silently reach the model.
    """
    return _fill(load(name), values, f"prompt {name!r}")
