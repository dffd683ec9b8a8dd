"""Which columns of a corpus hold its documents' dates and facets (groups such as categories or tags).

Dates: a column named like a date (:data:`DATE_NAMES`, or ending ``_date`` / ``_at``) whose values
parse (:mod:`indexing.dates`). The first such column in :data:`DATE_NAMES` order is used; one named
like a date whose values do not parse (more than :data:`MAX_FAILED` of them, or day/month dates
whose order no value settles) is reported in one line and not used at all.

Facets: a column named like a group (:data:`FACET_NAMES`) with 2 to :data:`MAX_VALUES` distinct
values, fewer than half the documents. A cell holding a list (JSON or Parquet), or a column whose
cells are combinations of space/comma/semicolon separated tokens (see :func:`_combined`: arXiv's
"cs.LG cs.AI stat.ML"), is multi-valued. In a split column only tokens shaped like the column's
common values are kept, up to the first odd one (:func:`_shape`: how a token starts, whether it holds
a digit or punctuation; a shape kept leads at least 1% of the cells or is a quarter of all tokens):
arXiv lists MSC and ACM codes, sometimes in words, after its categories ("... stat.ML 68T45, 62H30
I.5.3", "cs.AI Primary: 68T05"), which never lead a cell, so from "68T45" or "Primary:" on a cell's
tokens are dropped while "hep-th", "q-bio.NC" and "cs.LG" stay. ``--date-field`` and ``--facet-field`` name columns
explicitly; a named column that cannot be used is an error, not a report.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from topictalk.indexing import dates
from topictalk.indexing.errors import TopictalkError

DATE_NAMES = ("date", "published", "published_at", "publication_date", "pub_date", "date_published", "listing_date",
              "created_at", "created", "creation_date", "posted_at", "posted", "submitted", "timestamp", "datetime",
              "time", "year", "updated_at", "update_date", "updated", "modified")
FACET_NAMES = ("categories", "category", "labels", "label", "tags", "tag", "section", "source", "type", "genre",
               "class", "kind", "sections", "types", "topics_tag")
MAX_VALUES = 200  # more distinct values than this is no facet to tabulate (found automatically)
MAX_NAMED = 2000  # a column named with --facet-field may have more, up to this
MAX_FAILED = 0.02  # a date column may have this share of values that are not dates (say, "unknown")
LEADING_SHARE = 0.01  # a token shape kept in a split column leads at least this share of cells,
COMMON_SHARE = 0.25  # or is at least this share of all its tokens
_SPLIT = re.compile(r"[\s,;|]+")


@dataclass
class Fields:
    """What :func:`detect` found: each row's date and facet values, and what it reported."""

    date_field: str | None = None
    dates: list[date | None] = field(default_factory=list)  # per row
    precision: str = "day"
    facets: dict[str, bool] = field(default_factory=dict)  # name -> multi-valued
    values: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> per row, its values
    reported: list[str] = field(default_factory=list)  # one line per column not used

    def manifest(self) -> dict:
        return {"date_field": self.date_field, "date_precision": self.precision if self.date_field else None,
                "facet_fields": dict(self.facets), "reported": list(self.reported)}


def date_like(name: str) -> bool:
    low = name.lower()
    return low in DATE_NAMES or low.endswith(("_date", "_at")) or low.startswith("date_")


def facet_like(name: str) -> bool:
    return name.lower() in FACET_NAMES


def wanted(name: str, date_field: str | None, facet_fields: Sequence[str]) -> bool:
    """A column a loader must keep for :func:`detect` (loaders drop every other column early)."""
    return name == date_field or name in facet_fields or date_like(name) or facet_like(name)


def detect(rows: Sequence[Mapping[str, object]], columns: Sequence[str], where: str, *,
           date_field: str | None = None, facet_fields: Sequence[str] = (), taken: Sequence[str | None] = (),
           optional: bool = False) -> Fields:
    """The date and facet columns of ``rows`` (see the module docstring); ``taken`` (text, title, id)
    are never facets. ``optional``: a named column the rows lack is left out, not an error (documents
    added to an index whose columns they may not all have)."""
    found = Fields()
    if optional:
        date_field = date_field if date_field in columns else None
        facet_fields = [name for name in facet_fields if name in columns]
    for name in [date_field, *facet_fields]:
        if name and name not in columns:
            flag = "--date-field" if name == date_field else "--facet-field"
            raise TopictalkError(f"{where} has no column {name!r} (columns: {', '.join(columns) or 'none'}): "
                                 f"pass {flag} with one of them")
    candidates = [date_field] if date_field else sorted(
        (c for c in columns if date_like(c) and c not in taken),
        key=lambda c: DATE_NAMES.index(c.lower()) if c.lower() in DATE_NAMES else len(DATE_NAMES))
    for name in candidates:
        parsed = dates.parse_column([row.get(name) for row in rows], name)
        filled = sum(d is not None for d in parsed.dates) + parsed.failed
        why = _unusable(parsed, filled)
        if why is None:
            if found.date_field is None:
                found.date_field, found.dates, found.precision = name, parsed.dates, parsed.precision
            continue
        if date_field:
            raise TopictalkError(f"--date-field {name}: {why}; name another column or write its dates as YYYY-MM-DD")
        found.reported.append(f"column {name!r} is named like a date but {why}: not used (name a date column with "
                              "--date-field)")
    n = len(rows)
    for name in list(facet_fields) or [c for c in columns if facet_like(c) and c not in taken]:
        values, multi = facet_values([row.get(name) for row in rows])
        distinct = len({v for vs in values for v in vs})
        limit = MAX_NAMED if facet_fields else min(MAX_VALUES, max(2, n // 2 - 1))
        if 2 <= distinct <= limit:
            found.facets[name], found.values[name] = multi, values
        elif facet_fields:
            raise TopictalkError(f"--facet-field {name}: {distinct} distinct values, a facet needs 2 to {limit}; "
                                 "name a column of groups (categories, tags, a label)")
    return found


def _unusable(parsed: dates.Parsed, filled: int) -> str | None:
    if filled == 0:
        return "it is empty"
    if parsed.ambiguous:
        return f"its day/month dates could be read either way (e.g. {parsed.example})"
    if parsed.failed > MAX_FAILED * filled:
        return f"{parsed.failed} of {filled} values are not dates (e.g. {parsed.example!r})"
    return None


def facet_values(cells: Sequence[object]) -> tuple[list[list[str]], bool]:
    """Each cell's values and whether the column is multi-valued (see the module docstring)."""
    listed = [_as_list(c) for c in cells]
    if any(v is not None for v in listed):  # list cells: the column is lists (a lone string is a list of one)
        return [[str(x).strip() for x in (v if v is not None else [_text(c)]) if str(x).strip()]
                for v, c in zip(listed, cells)], True
    texts = [_text(c) for c in cells]
    tokens = [[t for t in _SPLIT.split(s) if t] for s in texts]
    whole = {s for s in texts if s}
    if _combined(tokens, whole):
        leading = Counter(_shape(ts[0]) for ts in tokens if ts)
        every = Counter(_shape(t) for ts in tokens for t in ts)
        cells_n, tokens_n = sum(1 for ts in tokens if ts), sum(every.values())
        keep = {s for s, k in leading.items() if k >= LEADING_SHARE * cells_n} | \
               {s for s, k in every.items() if k >= COMMON_SHARE * tokens_n}
        return [list(dict.fromkeys(_head(ts, keep))) for ts in tokens], True
    return [[s] if s else [] for s in texts], False


def _combined(tokens: list[list[str]], whole: set[str]) -> bool:
    """Cells that combine values: more distinct cells than distinct tokens (many combinations), or most
    cells of several tokens hold a token that is a whole cell elsewhere ("cs.LG cs.AI" beside "cs.LG");
    "World News" beside "Local News" does neither."""
    several = [ts for ts in tokens if len(ts) > 1]
    if not several:
        return False
    if len(whole) > len({t for ts in tokens for t in ts}):
        return True
    return sum(any(t in whole for t in ts) for ts in several) >= 0.5 * len(several)


def _head(tokens: list[str], keep: set[str]) -> list[str]:
    """The tokens before the first odd one: what follows an odd token belongs to it ("Primary: 68T05")."""
    out = []
    for t in tokens:
        if _shape(t) not in keep:
            break
        out.append(t)
    return out


def _shape(token: str) -> str:
    """A token's shape: how it starts (lowercase, uppercase, digit, other), whether it holds a digit, and
    whether it holds a character other than letters, digits and ``.-_``: cs.LG, q-bio.NC and hep-th are
    "a", 68T45 is "99", I.2.6 is "A9", "Primary:" is "A!"."""
    head = token[0]
    first = "9" if head.isdigit() else "a" if head.islower() else "A" if head.isalpha() else "."
    return (first + ("9" if any(ch.isdigit() for ch in token) else "")
            + ("!" if re.search(r"[^\w.\-]", token) else ""))


def _as_list(cell: object) -> list | None:
    if isinstance(cell, (list, tuple, set)):
        return list(cell)
    if getattr(cell, "ndim", 0) == 1:  # a numpy array cell of a Parquet list column
        return list(cell)
    if isinstance(cell, str) and cell.lstrip().startswith("["):
        try:
            got = json.loads(cell)
        except json.JSONDecodeError:
            return None
        return got if isinstance(got, list) else None
    return None


def _text(cell: object) -> str:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
