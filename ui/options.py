"""The command line's argument types and option groups: one-line errors for bad numbers and names,
and the options that several commands share (`index` and `demo` build an index the same way)."""

from __future__ import annotations

import argparse

from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions
from topictalk.indexing.store.layout import CHROMA_PORT

APP_PORT = 7860  # the chat app's (Gradio's usual port)


MAX_COUNT = 2**63 - 1  # no count, size or seed of this program is larger (Chroma's and numpy's ints are 64-bit)


def _shown(text: str) -> str:
    """A bad value as an error quotes it: a 5,000-digit number is cut, not printed."""
    return repr(text) if len(text) <= 30 else f"{text[:20]!r}... ({len(text):,} characters)"


def at_least(minimum: int, meaning: str = ""):
    """An argparse type: an integer >= minimum, else a one-line error saying what the number means."""

    def parse(text: str) -> int:
        if text.strip().lstrip("+-").isdigit() and len(text.strip().lstrip("+-0")) > len(str(MAX_COUNT)):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is too large: at most {MAX_COUNT:,}")
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {_shown(text)}") from None
        if abs(value) > MAX_COUNT:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is too large: at most {MAX_COUNT:,}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{meaning}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in some messages
    return parse


def _number(text: str, fits, need: str) -> float:
    """An argparse type's float, with the one-line error for text that is no number or does not fit."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}") from None
    if not fits(value):  # NaN fits nothing
        raise argparse.ArgumentTypeError(f"must be {need}, got {value:g}")
    return value


def fraction(text: str) -> float:
    return _number(text, lambda v: 0.0 <= v <= 1.0, "between 0 and 1")


def positive(text: str) -> float:
    return _number(text, lambda v: v > 0, "above 0")


def networks(text: str) -> str:
    """Comma-separated addresses or networks (``--forwarded-allow-ips``), each checked; the text as given."""
    import ipaddress

    parts = [part.strip() for part in text.split(",") if part.strip()]
    for part in parts:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(part)} is no address or network (e.g. 10.0.0.5, "
                                             f"10.0.0.0/24 or ::1)") from None
    if not parts:
        raise argparse.ArgumentTypeError("name at least one address, e.g. 10.0.0.5")
    return ",".join(parts)


class Parser(argparse.ArgumentParser):
    """argparse, with bad arguments reported in one line (and the --help that explains them)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"topictalk: error: {message} (see {self.prog} --help)\n")


def serve_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("app")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    g.add_argument("--port", type=at_least(1), default=APP_PORT)
    g.add_argument("--share", action="store_true", help="also open a public Gradio share link (needs a login)")
    g.add_argument("--auth", metavar="USER:PASS", help="require this login")
    g.add_argument("--auth-file", metavar="FILE", help="require a login from this file (user:password per line)")
    g.add_argument("--no-auth", action="store_true", help="allow --share without a login, on purpose")
    g.add_argument("--forwarded-allow-ips", metavar="ADDRS", type=networks,
                   help="behind a reverse proxy: its addresses or networks (comma separated, e.g. 10.0.0.5 or "
                        "10.0.0.0/24); the login throttle then counts the visitor its X-Forwarded-For names "
                        "(sets FORWARDED_ALLOW_IPS, which uvicorn reads too; see docs/security.md)")
    g.add_argument("--max-tokens", type=at_least(1, " token"),
                   help=f"longest answer in tokens (default {GenerationOptions.max_tokens})")
    g.add_argument("--map-points", type=at_least(1, " point"), default=20000,
                   help="most documents drawn on the map (a sample beyond)")
    g.add_argument("--editors", nargs="+", metavar="USER", help="these logins may rename, merge and split topics "
                   "in the Topics tab (the app is read-only otherwise)")
    g.add_argument("--editable", action="store_true", help="an app without logins on this machine: its user may "
                   "rename, merge and split topics in the Topics tab")


def corpus_options(p: argparse.ArgumentParser):
    """Where the documents come from: `index`, `demo` and `add`."""
    src = p.add_argument_group("corpus")
    src.add_argument("--input", nargs="+", metavar="PATH", help="CSV, TSV, JSON Lines (.gz), Parquet or a folder "
                     "of .txt/.md files")
    src.add_argument("--dataset", metavar="NAME", help="a Hugging Face dataset, e.g. CShorten/ML-ArXiv-Papers")
    src.add_argument("--split", default="train")
    src.add_argument("--text-column")
    src.add_argument("--title-column")
    return src


def index_options(p: argparse.ArgumentParser) -> None:
    """The options of `index`, shared with `demo` so both build an index the same way."""
    from topictalk.indexing.labels import LabelSettings
    from topictalk.indexing.topics import TopicParams  # the recipe's defaults: defined there, shown and used here

    src = corpus_options(p)
    src.add_argument("--limit", type=at_least(0, " documents"),
                     help="index a reproducible random sample of N documents")
    src.add_argument("--seed", type=at_least(0), default=42, help="seed of the --limit sample")
    src.add_argument("--date-field", metavar="NAME", help="the column of the documents' dates (default: found "
                     "by its name and values, e.g. date, published, listing_date)")
    src.add_argument("--facet-field", metavar="NAME", action="append", default=[],
                     help="a column of groups to count topics by (repeatable; default: found, e.g. categories, tags)")
    store_options(p)
    model_options(p)
    p.add_argument("--no-llm", action="store_true", help="label topics by their keywords, without an LLM")
    p.add_argument("--embeddings", metavar="FILE.npy", help="precomputed embeddings, one row per document")
    p.add_argument("--embed-workers", type=at_least(1, " process"), default=1, metavar="N",
                   help="embed on N processes (one per GPU, else CPU processes): a sentence-transformers pool")
    tp = p.add_argument_group("topic model (defaults: the reference recipe)")
    tp.add_argument("--bertopic-model", metavar="PATH",
                    help="keep the topics of a saved BERTopic model (the folder BERTopic.save() wrote, or its "
                         "pickle) fitted on --input's documents in the same order: its topics, words and labels "
                         "stay, topictalk adds themes, missing labels, descriptions, the map and the chat")
    tp.add_argument("--min-cluster-size", type=at_least(2, " documents (a topic of one is no topic)"),
                    help=f"cluster with HDBSCAN on the {TopicParams.n_components}-D UMAP output instead of the "
                         "neighbour graph's communities (the reference recipe used 150)")
    tp.add_argument("--min-samples", type=at_least(1), help="HDBSCAN's min_samples (also switches to HDBSCAN)")
    tp.add_argument("--resolution", type=positive, default=TopicParams.resolution,
                    help="Leiden's modularity resolution: above 1 finer topics, below 1 coarser (themes are "
                         "then grouped from the topics, as with --themes graph)")
    tp.add_argument("--themes", choices=("cells", "graph"), default=TopicParams.themes,
                    help="cells: themes first, as k-means cells of the embeddings, with the topics split within "
                         "them; graph: the topics first, grouped into themes by their links")
    tp.add_argument("--nr-topics", type=at_least(0, " (0: the graph's own communities, unsplit)"), metavar="N",
                    help="about N topics: the biggest topics are split into their sub-communities until there "
                         "are N (default: 0.45 x the square root of the corpus size; 0: never split)")
    tp.add_argument("--n-neighbors", type=at_least(2, " (UMAP needs a neighbour besides the point itself)"),
                    default=TopicParams.n_neighbors)
    tp.add_argument("--n-components", type=at_least(1), default=TopicParams.n_components)
    tp.add_argument("--min-dist", type=fraction, default=TopicParams.min_dist)
    tp.add_argument("--random-state", type=at_least(-1), default=TopicParams.random_state,
                    help="UMAP seed; -1 for none (faster, parallel)")
    tp.add_argument("--top-n-words", type=at_least(1), default=TopicParams.top_n_words)
    tp.add_argument("--ngram-max", type=at_least(1, " word"), default=TopicParams.ngram_range[1],
                    help="longest keyword phrase, in words")
    tp.add_argument("--keep-outliers", action="store_true",
                    help="keep documents that belong to no topic clearly in topic -1 instead of placing them")
    tp.add_argument("--label-doc-tokens", type=at_least(1), default=LabelSettings.doc_tokens,
                    help="token budget per document in label prompts")
    tp.add_argument("--one-shot", action="store_true", help="add the reference's one-shot example to label prompts")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def store_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store")
    g.add_argument("--index-dir", help="index folder (default ./topictalk-index)")
    g.add_argument("--chroma-host", help="use a Chroma server instead of the embedded database")
    g.add_argument("--chroma-port", type=at_least(1), default=CHROMA_PORT)
    g.add_argument("--index-name", type=index_name, default="default",
                   help="which index in the store: many can share one Chroma server (default: default)")


def index_name(text: str) -> str:
    from topictalk.indexing.store import check_index_name

    try:
        return check_index_name(text)
    except TopictalkError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", help="model spec: bundled, llama-cpp:PATH.gguf, hf:ORG/NAME, openai:URL#MODEL")
    p.add_argument("--embedding-model", help="sentence-transformers name or folder (default: bundled MiniLM)")


def topic_id(text: str) -> int:
    """A topic id as `topictalk topics` prints it (-1 is the outlier bin, refused with its reason later)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a topic id (a whole number from `topictalk topics`), got "
                                         f"{_shown(text)}") from None


def refine_options(p: argparse.ArgumentParser) -> None:
    """`topics --rename/--merge/--split`: each change writes a new generation (docs/refine.md)."""
    g = p.add_argument_group("refine the topics (each change is a new generation; docs/refine.md)")
    one = g.add_mutually_exclusive_group()
    one.add_argument("--rename", nargs=2, metavar=("TOPIC", "LABEL"), help='give a topic a label, e.g. --rename 3 '
                     '"Speech recognition"')
    one.add_argument("--merge", nargs="+", type=topic_id, metavar="TOPIC",
                     help="merge two or more topics into one (it keeps the smallest id)")
    one.add_argument("--split", type=topic_id, metavar="TOPIC", help="split a topic into its sub-communities")
    g.add_argument("--parts", type=at_least(2, " parts"), metavar="N", help="with --split: at most N parts")
    g.add_argument("--llm", help="label what a merge, a split or --subtopics makes with this model (default: the "
                                 "model that labelled the index, if any)")
    g.add_argument("--no-llm", action="store_true", help="label what a merge, a split or --subtopics makes by its "
                                                         "keywords")


def trends_options(p: argparse.ArgumentParser) -> None:
    from topictalk.indexing.dates import PERIODS

    p.add_argument("--period", choices=PERIODS, help="count by this period (the index's own, or a coarser one)")
    p.add_argument("--top", type=at_least(1, " topic"), default=10, help="the biggest N topics (default 10)")
    p.add_argument("--json", action="store_true", help="every topic, period and change as JSON")
