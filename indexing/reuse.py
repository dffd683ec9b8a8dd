"""Whether an existing index is the one a run would build, so that `topictalk demo` reuses it."""

from __future__ import annotations

# `topictalk demo` on a CPU commits keyword labels first (manifest["labels_pending"]) and the model's after
KEYWORD_LABELS_ONLY = "its topics have keyword labels only: the model's were not all written"


def labels_note(manifest: dict) -> str | None:
    """A line for whoever opens an index whose model labels never came (the demo was closed before them),
    or None: `chat` and `topics` show keyword labels then, and the same demo command writes the rest."""
    if not manifest.get("labels_pending"):
        return None
    return (f"note: {KEYWORD_LABELS_ONLY} (`topictalk demo` was closed before them); run the same "
            "`topictalk demo` command again to write them from its caches")


def mismatch(manifest: dict, source: str, limit: int | None, embedding_model: str,
             inputs: list[str] | None = None) -> str | None:
    """Why an existing index does not match what the demo would build, or None when it does.

    ``inputs``: the resolved paths of --input files; the source names only their base names,
    and a/papers.csv is not b/papers.csv.
    """
    corpus = manifest.get("corpus", {})
    if corpus.get("source") != source:
        return f"it was built from {corpus.get('source')}"
    if inputs is not None and corpus.get("inputs") != inputs:
        built = corpus.get("inputs")
        return f"it was built from {', '.join(built)}" if built else "it does not record which files it was built from"
    built_with = manifest.get("models", {}).get("embedding_name")
    if built_with != embedding_model:
        return f"it was built with the embedding model {built_with}"
    if manifest.get("labels_pending"):  # the chat opened before the model's labels, and closed before them
        return KEYWORD_LABELS_ONLY
    documents, sampled_from = corpus.get("documents"), corpus.get("sampled_from")
    if limit is None and sampled_from is not None:
        return f"it holds a sample of {documents} documents, not all {sampled_from}"
    if limit is not None and not ((sampled_from is not None and documents == limit)
                                  or (sampled_from is None and documents <= limit)):
        return f"it holds {documents} documents, not a sample of {limit}"
    return None
