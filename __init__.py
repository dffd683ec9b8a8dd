"""topictalk: talk with a corpus through its topics.

    import topictalk
    idx = topictalk.index(texts, path="my-index")   # or topictalk.open("my-index")
    idx.topics()                                    # a DataFrame in BERTopic's get_topic_info() shape
    print(idx.ask("What is this corpus about?"))

The repository root is this package (pyproject.toml maps it): agent/, indexing/, ui/ and prompts/
install as topictalk.agent, topictalk.indexing, topictalk.ui and topictalk.prompts. The names below
are imported on first use, so ``import topictalk`` (and the command line) stays fast.
"""

from __future__ import annotations

__all__ = ["Answer", "Chat", "Index", "index", "open"]


def __getattr__(name: str):
    if name in __all__:
        from topictalk.ui import library

        return getattr(library, name)
    raise AttributeError(f"module 'topictalk' has no attribute {name!r}")
