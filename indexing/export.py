"""An index's tables as files: its documents with their topics, and its topic and theme tables.

``topictalk export --format csv|parquet|jsonl --out FOLDER`` writes ``documents``, ``topics`` and
``themes`` in one format. The topic table has the columns of BERTopic's ``get_topic_info()`` (Topic,
Count, Name, Representation, Representative_Docs), then ours; a document row has its id, title, text,
topic, theme (with their labels), probability, whether it is core (a member, not placed), its map
position, its date and period (empty without a date column) and a column per facet field (a list where
the field is multi-valued; named ``field_NAME`` where NAME is one of the columns before). In CSV a list is a JSON array; Parquet and JSON lines keep lists as lists.
"""

from __future__ import annotations

import json
from pathlib import Path

from topictalk.indexing.errors import TopictalkError

FORMATS = ("csv", "parquet", "jsonl")


def frames(reader) -> dict:
    """``{"documents", "topics", "themes"}`` as pandas DataFrames, read from ``reader`` (a store Reader)."""
    import pandas as pd

    topics, themes = reader.topics(), reader.themes()
    topic_label = {t.id: t.label for t in topics}
    theme_label = {th.id: th.label for th in themes}
    base = ["id", "title", "text", "topic", "topic_label", "theme", "theme_label", "probability", "core", "x", "y",
            "date", "period"]
    docs = reader.all_documents()
    # a facet column under its own name, or field_NAME where that name is one of ours
    facet_names = list(dict.fromkeys(name for d in docs for name in d.fields))
    shown = {name: f"field_{name}" if name in base else name for name in facet_names}
    documents = pd.DataFrame(
        [{"id": d.id, "title": d.title, "text": d.text, "topic": d.topic, "topic_label": topic_label.get(d.topic, ""),
          "theme": -1 if d.theme is None else d.theme, "theme_label": theme_label.get(d.theme, ""),
          "probability": d.probability, "core": d.core, "x": d.x, "y": d.y, "date": d.date, "period": d.period,
          **{shown[name]: d.fields.get(name) for name in facet_names}} for d in docs],
        columns=base + [shown[n] for n in facet_names])
    topic_rows = pd.DataFrame(
        [{"Topic": t.id, "Count": t.size, "Name": f"{t.id}_" + "_".join(t.keywords[:4]),
          "Representation": list(t.keywords), "Representative_Docs": list(t.representative_ids), "Label": t.label,
          "KeyBERT": list(t.keybert), "MMR": list(t.mmr), "Description": t.description,
          "Theme": -1 if t.theme is None else t.theme, "Theme_Label": theme_label.get(t.theme, ""),
          "Label_Source": t.label_source} for t in topics])
    theme_rows = pd.DataFrame(
        [{"Theme": th.id, "Count": th.size, "Label": th.label, "Topics": list(th.topic_ids),
          "Representation": list(th.keywords), "Description": th.description} for th in themes],
        columns=["Theme", "Count", "Label", "Topics", "Representation", "Description"])
    return {"documents": documents, "topics": topic_rows, "themes": theme_rows}


def write(reader, folder: Path, fmt: str) -> list[Path]:
    """Write the three tables into ``folder`` as ``fmt`` files; their paths."""
    if fmt not in FORMATS:
        raise TopictalkError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in frames(reader).items():
            path = folder / f"{name}.{fmt}"
            if fmt == "csv":  # a list in a CSV cell as a JSON array, which any reader can parse back
                lists = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, list)).any()]
                frame = frame.assign(**{c: frame[c].map(json.dumps) for c in lists})
                frame.to_csv(path, index=False)
            elif fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_json(path, orient="records", lines=True, force_ascii=False)
            written.append(path)
    except OSError as err:
        raise TopictalkError(f"cannot write the export to {folder}: {err.strerror or err}; "
                             "pick a folder you can write (--out)") from err
    return written
