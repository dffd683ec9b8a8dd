"""The sample corpus shipped inside the package: what `topictalk demo` indexes with no network.

2,000 arXiv machine-learning abstracts (title, abstract, categories; arXiv
metadata is CC0), drawn reproducibly from the project's development corpus
by ``bench/sample_corpus.py``; ``indexing/data/README.md`` says more.
"""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "arxiv_ml_sample.jsonl.gz"
DOCUMENTS = 2000
DESCRIBED = f"the bundled sample of {DOCUMENTS:,} arXiv ML abstracts (CC0)"
