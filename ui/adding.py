"""`topictalk add --input NEW`: documents added to an index (indexing/add.py), and what became of them."""

from __future__ import annotations

import argparse
import json
import sys


def run(args: argparse.Namespace, location, load) -> int:  # noqa: ANN001
    """``load(**columns)``: the new documents, read with the index's date and facet columns."""
    from topictalk.indexing import add, store
    from topictalk.ui import progress

    manifest = store.open_reader(location).manifest  # a missing index fails here, before any reading
    corpus_columns = manifest.get("corpus", {})
    corpus = load(date_field=corpus_columns.get("date_field"),
                  facet_fields=list(corpus_columns.get("facet_fields") or {}), fields_optional=True)
    done = add.add(location, corpus, progress=progress.bars(args.quiet))
    if args.json:
        print(json.dumps({"added": done.added, "already": done.already, "unfit": done.unfit,
                          "unfit_share": round(done.unfit_share, 4), "per_topic": done.per_topic,
                          "generation": done.generation, "advice": done.advice}, indent=2))
        return 0
    if not done.added:
        print(f"nothing to add: the index holds all {done.already:,} documents already")
        return 0
    held = f"; {done.already:,} already held, skipped" if done.already else ""
    print(f"added {done.added:,} documents to {len(done.per_topic)} topics (generation {done.generation}){held}; "
          f"{done.unfit:,} ({done.unfit_share:.0%}) fit no topic well and were placed at their nearest")
    if done.advice:
        print(f"topictalk: note: {done.advice}", file=sys.stderr)
    return 0

