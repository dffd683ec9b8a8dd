"""The ``topictalk`` command: parse arguments, compose indexing/agent/ui, print one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from indexing.errors import TopictalkError
from ui import config as config_mod



def _models(args: argparse.Namespace) -> int:
    """List the configured and bundled models and where each file is."""
    from agent import bundled, models
    from indexing import embedding

    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model})
    rows: list[tuple[str, str, str]] = []
    spec = models.parse(cfg.llm)
    rows.append(("llm (configured)", cfg.llm, _llm_location(spec)))
    rows.append(("embedding (configured)", cfg.embedding_model, embedding.resolve(cfg.embedding_model)))
    rows.append(("llm (bundled)", "bundled: Qwen2.5-Coder-0.5B-Instruct Q4_K_M", str(bundled.gguf_path())))
    rows.append(("embedding (bundled)", "bundled: all-MiniLM-L6-v2", str(embedding.bundled_path())))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    for role, name, where in rows:
        print(f"{role:<{width[0]}}  {name:<{width[1]}}  {where}")
    print(f"settings from: {cfg.source}")
    return 0


def _llm_location(spec) -> str:  # noqa: ANN001
    from agent import bundled

    if spec.scheme == "bundled":
        return str(bundled.gguf_path())
    if spec.scheme == "llama-cpp":
        path = Path(spec.target).expanduser()
        if not path.is_file():
            raise TopictalkError(f"GGUF file not found: {path}; give an existing .gguf path (llama-cpp:PATH.gguf)")
        return str(path.resolve())
    if spec.scheme == "hf":
        return f"Hugging Face hub or folder: {spec.target}"
    return f"server {spec.target} (model {spec.model or 'first served'})"


def _location(args: argparse.Namespace, cfg) -> tuple[Path, "store.Location"]:  # noqa: F821
    from indexing import store

    index_dir = Path(args.index_dir or cfg.index_dir).expanduser()
    if args.chroma_host:
        return index_dir, store.Location(host=args.chroma_host, port=args.chroma_port)
    return index_dir, store.Location(path=index_dir)


def _progress(quiet: bool):
    from tqdm import tqdm

    def stage(name: str, total: int):
        bar = tqdm(total=total, desc=f"{name:<9}", unit="topic" if name == "labeling" else "doc",
                   disable=quiet, file=sys.stderr, dynamic_ncols=True)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= bar.total:
                bar.close()

        if total == 0:
            bar.close()
        return advance

    return stage


def _index(args: argparse.Namespace) -> int:
    """Build (or rebuild) the topic index of a corpus."""
    from indexing import corpus as corpus_mod
    from indexing import pipeline
    from indexing.labels import LabelSettings
    from indexing.topics import TopicParams

    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model, "index_dir": args.index_dir})
    index_dir, location = _location(args, cfg)
    if bool(args.input) == bool(args.dataset):
        raise TopictalkError("name the corpus: --input FILE [FILE ...] for local files, or --dataset NAME for a "
                             "Hugging Face dataset (e.g. CShorten/ML-ArXiv-Papers)")
    log = (lambda _: None) if args.quiet else (lambda msg: print(f"topictalk: {msg}", file=sys.stderr))
    columns = dict(text_column=args.text_column, title_column=args.title_column, limit=args.limit, seed=args.seed)
    if args.dataset:
        log(f"loading Hugging Face dataset {args.dataset} ({args.split})")
        corpus = corpus_mod.from_dataset(args.dataset, split=args.split, **columns)
    else:
        corpus = corpus_mod.from_files(args.input, **columns)
    sample = f", a random sample of {len(corpus)} from {corpus.sampled_from}" if corpus.sampled_from else ""
    log(f"{len(corpus)} documents from {corpus.source} ({corpus.read} read, {corpus.dropped_empty} empty and "
        f"{corpus.dropped_duplicates} duplicate dropped{sample})")
    params = TopicParams(
        n_neighbors=args.n_neighbors, n_components=args.n_components, min_dist=args.min_dist,
        random_state=None if args.random_state < 0 else args.random_state, min_cluster_size=args.min_cluster_size,
        min_samples=args.min_samples, top_n_words=args.top_n_words, ngram_range=(1, args.ngram_max),
        reduce_outliers=args.reduce_outliers,
    )
    if args.min_cluster_size is None:
        from indexing.topics import default_min_cluster_size

        log(f"min_cluster_size {default_min_cluster_size(len(corpus))} (the default for {len(corpus)} documents; "
            "set --min-cluster-size to change it)")
    settings = pipeline.IndexSettings(
        embedding_model=cfg.embedding_model, embeddings_file=args.embeddings, topics=params,
        labels=LabelSettings(doc_tokens=args.label_doc_tokens, one_shot=args.one_shot),
    )
    llm = None
    if not args.no_llm:
        from agent import models

        llm = models.load(cfg.llm)
    try:
        result = pipeline.build(corpus, index_dir, settings, llm, location=location,
                                progress=_progress(args.quiet), log=log)
    finally:
        if llm is not None:
            llm.close()
    print(pipeline.format_table(pipeline.summary_rows(result.topics)))
    m = result.manifest
    print(f"\n{m['counts']['topics']} topics, {m['counts']['outliers']} outliers "
          f"({100 * m['counts']['outlier_share']:.1f}%), {m['corpus']['documents']} documents in {location} "
          f"(generation {m['generation']}, {m['timings']['total']:.0f} s)")
    return 0


def _topics(args: argparse.Namespace) -> int:
    """Print the topic table of an existing index."""
    import json

    from indexing import pipeline, store

    cfg = config_mod.load({"index_dir": args.index_dir})
    _, location = _location(args, cfg)
    reader = store.open_reader(location)
    topic_list = reader.topics()
    if args.json:
        print(json.dumps([
            {"topic": t.id, "count": t.size, "label": t.label, "label_source": t.label_source,
             "keywords": t.keywords, "keybert": t.keybert, "mmr": t.mmr, "representative_ids": t.representative_ids}
            for t in pipeline.info_order(topic_list)
        ], indent=2, ensure_ascii=False))
    else:
        print(pipeline.format_table(pipeline.summary_rows(topic_list)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="topictalk",
        description="Talk with a corpus through its topics: index documents into topics, then chat about them.",
    )
    parser.add_argument("--version", action="version", version=f"topictalk {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the configured and bundled models and where each file is")
    _model_options(p)
    p.set_defaults(func=_models)

    p = sub.add_parser("index", help="build the topic index of a corpus (embed, cluster, label, store)",
                       description="Embed the documents, find topics with UMAP + HDBSCAN + BERTopic, label them "
                                   "with the LLM, and store everything in Chroma.")
    src = p.add_argument_group("corpus")
    src.add_argument("--input", nargs="+", metavar="PATH", help="CSV, TSV, JSON Lines (.gz), Parquet or a folder "
                     "of .txt/.md files")
    src.add_argument("--dataset", metavar="NAME", help="a Hugging Face dataset, e.g. CShorten/ML-ArXiv-Papers")
    src.add_argument("--split", default="train")
    src.add_argument("--text-column")
    src.add_argument("--title-column")
    src.add_argument("--limit", type=int, help="index a reproducible random sample of N documents")
    src.add_argument("--seed", type=int, default=42, help="seed of the --limit sample")
    _store_options(p)
    _model_options(p)
    p.add_argument("--no-llm", action="store_true", help="label topics by their keywords, without an LLM")
    p.add_argument("--embeddings", metavar="FILE.npy", help="precomputed embeddings, one row per document")
    tp = p.add_argument_group("topic model (defaults: the reference recipe)")
    tp.add_argument("--min-cluster-size", type=int, help="HDBSCAN; default from the corpus size (150 at ~100k)")
    tp.add_argument("--min-samples", type=int)
    tp.add_argument("--n-neighbors", type=int, default=15)
    tp.add_argument("--n-components", type=int, default=5)
    tp.add_argument("--min-dist", type=float, default=0.0)
    tp.add_argument("--random-state", type=int, default=42, help="UMAP seed; -1 for none (faster, parallel)")
    tp.add_argument("--top-n-words", type=int, default=10)
    tp.add_argument("--ngram-max", type=int, default=2, help="longest keyword phrase, in words")
    tp.add_argument("--reduce-outliers", action="store_true", help="assign outlier documents to topics")
    tp.add_argument("--label-doc-tokens", type=int, default=64, help="token budget per document in label prompts")
    tp.add_argument("--one-shot", action="store_true", help="add the reference's one-shot example to label prompts")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_index)

    p = sub.add_parser("topics", help="print the topics of an index")
    _store_options(p)
    p.add_argument("--json", action="store_true", help="a JSON list of topic objects")
    p.set_defaults(func=_topics)
    return parser


def _store_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store")
    g.add_argument("--index-dir", help="index folder (default ./topictalk-index)")
    g.add_argument("--chroma-host", help="use a Chroma server instead of the embedded database")
    g.add_argument("--chroma-port", type=int, default=8000)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", help="model spec: bundled, llama-cpp:PATH.gguf, hf:ORG/NAME, openai:URL#MODEL")
    p.add_argument("--embedding-model", help="sentence-transformers name or folder (default: bundled MiniLM)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("topictalk")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except TopictalkError as err:
        print(f"topictalk: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topictalk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `topictalk topics | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
