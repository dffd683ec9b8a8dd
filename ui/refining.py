"""`topictalk topics --rename/--merge/--split`: one change to the topics (indexing/refine.py), and what it did."""

from __future__ import annotations

import argparse
import json

from topictalk.indexing.clustering import MIN_SPLIT_MODULARITY
from topictalk.indexing.errors import TopictalkError


def asked(args: argparse.Namespace) -> bool:
    changes = bool(args.rename or args.merge or args.split is not None)
    if changes and getattr(args, "subtopics", None) is not None:
        raise TopictalkError("--subtopics only reads a topic's subtopics; it does not go with --rename, --merge or "
                             "--split (topictalk topics --split N makes them topics of their own)")
    return changes


def run(args: argparse.Namespace, location) -> int:  # noqa: ANN001
    from topictalk.indexing import refine

    if getattr(args, "by", None):
        raise TopictalkError("--by lists the topics per value; it does not go with --rename, --merge or --split")
    if args.parts is not None and args.split is None:
        raise TopictalkError("--parts goes with --split: topictalk topics --split 5 --parts 2")
    if args.rename:
        topic, label = args.rename
        try:
            topic = int(topic)
        except ValueError:
            raise TopictalkError(f"--rename takes a topic id, then the label, not {topic!r}: e.g. topictalk topics "
                                 f"--rename 3 \"{label}\"") from None
        done = refine.rename(location, topic, label)
        _say(args, f"topic {done.topic} renamed: '{done.old_label}' -> '{done.label}' (generation {done.generation})",
             {"renamed": done.topic, "old_label": done.old_label, "label": done.label, "generation": done.generation})
        return 0
    llm = _llm(args, location)
    try:
        if args.merge:
            done = refine.merge(location, args.merge, llm=llm)
            tp = done.topic
            _say(args, f"topics {', '.join(map(str, done.merged))} merged into topic {tp.id}: '{tp.label}' "
                       f"({tp.size:,} documents; {', '.join(tp.keywords[:5])}) (generation {done.generation})",
                 {"merged": done.merged, "topic": _topic(tp), "generation": done.generation})
        else:
            done = refine.split(location, args.split, parts=args.parts, llm=llm)
            # the index leaves a topic whole below this (clustering.MIN_SPLIT_MODULARITY); a split into a given
            # number of parts is judged by the reader (a clean 2-way split of 80 documents scores 0.17)
            weak = (" (weakly separated: the index itself would have left it whole)"
                    if args.parts is None and done.modularity < MIN_SPLIT_MODULARITY else "")
            lines = [f"topic {done.parent} split into {len(done.parts)} topics, modularity {done.modularity:.2f}"
                     f"{weak} (generation {done.generation}):"]
            lines += [f"  {p.id}  {p.size:>6,}  {p.label}  ({', '.join(p.keywords[:4])})" for p in done.parts]
            _say(args, "\n".join(lines), {"split": done.parent, "parts": [_topic(p) for p in done.parts],
                                          "modularity": done.modularity, "generation": done.generation})
    finally:
        if llm is not None:
            llm.close()
    return 0


def subtopics(reader, args: argparse.Namespace) -> int:  # noqa: ANN001
    """`topictalk topics --subtopics N`: a topic's subtopics (indexing/subtopics.py), found or read from the cache;
    labelled by --llm, else by the model that labelled the index (keywords with --no-llm or an index without one)."""
    from topictalk.indexing import subtopics as subtopics_mod

    if args.by or args.parts is not None:
        raise TopictalkError("--subtopics prints one topic's subtopics; it does not go with --by or --parts")
    llm = _llm(args, reader.location, deferred=True)  # loaded only when the labels are not cached yet
    try:
        found = subtopics_mod.of_index(reader, args.subtopics, llm=llm)
    finally:
        if llm is not None:
            llm.close()
    if args.json:
        print(json.dumps({**found.as_dict(), "cached": found.cached}, indent=2, ensure_ascii=False))
    else:
        print(subtopics_mod.describe(found))
    return 0


def _llm(args: argparse.Namespace, location, deferred: bool = False):  # noqa: ANN001, ANN202
    """The model that labels what a merge, a split or a subtopic makes: --llm, else the index's own, none with
    --no-llm."""
    if args.no_llm:
        return None
    spec = args.llm
    if spec is None:
        from topictalk.indexing import store

        spec = store.open_reader(location).manifest.get("models", {}).get("llm")
    if not spec:
        return None
    from topictalk.agent import models

    return models.Deferred(spec) if deferred else models.load(spec)


def _topic(tp) -> dict:  # noqa: ANN001
    return {"topic": tp.id, "count": tp.size, "label": tp.label, "label_source": tp.label_source, "theme": tp.theme,
            "keywords": tp.keywords, "description": tp.description}


def _say(args: argparse.Namespace, line: str, data: dict) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else line)
