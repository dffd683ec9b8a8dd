"""The ``topictalk`` command: parse arguments, compose indexing/agent/ui, print one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from topictalk.indexing import errors, fingerprint, imports, reuse
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions
from topictalk.indexing.reuse import mismatch as _reusable  # noqa: F401 - tests/test_app.py imports it from here
from topictalk.ui import config as config_mod
from topictalk.ui import options, progress, refining, tables, trend_tables


def _models(args: argparse.Namespace) -> int:
    """List the configured and bundled models and where each file is."""
    from topictalk.agent import bundled, models
    from topictalk.indexing import embedding

    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model})
    rows: list[tuple[str, str, str]] = []
    rows.append(("llm (configured)", cfg.llm, models.location(cfg.llm)))
    rows.append(("embedding (configured)", cfg.embedding_model, embedding.resolve(cfg.embedding_model)))
    for model in bundled.MODELS.values():
        rows.append((f"llm ({model.name})", f"{model.name}: {model.title}", str(bundled.gguf_path(model))))
    rows.append(("embedding (bundled)", "bundled: all-MiniLM-L6-v2", str(embedding.bundled_path())))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    for role, name, where in rows:
        print(f"{role:<{width[0]}}  {name:<{width[1]}}  {where}")
    print(f"settings from: {cfg.source}")
    from topictalk.agent import llamacpp
    from topictalk.indexing import host

    print(host.probe().line())
    print(f"llama.cpp built for: {' '.join(llamacpp.build_flags())}")
    return 0


def _location(args: argparse.Namespace, cfg) -> tuple[Path, "store.Location"]:  # noqa: F821
    from topictalk.indexing import store

    index_dir = Path(args.index_dir or cfg.index_dir).expanduser()
    index = getattr(args, "index_name", None) or store.DEFAULT_INDEX
    if args.chroma_host:
        return index_dir, store.Location(host=args.chroma_host, port=args.chroma_port, index=index)
    return index_dir, store.Location(path=index_dir, index=index)


def _reader(args: argparse.Namespace) -> "store.Reader":  # noqa: F821
    """The index the arguments name, opened for reading (`topics`, `map`)."""
    from topictalk.indexing import store

    return store.open_reader(_location(args, config_mod.load({"index_dir": args.index_dir}))[1])


class SharedModel:
    """The LLM a command loads at most once, when first needed (`demo`: it labels, then it chats)."""

    def __init__(self, spec: str | None) -> None:
        self.spec, self._model = spec, None

    def get(self):  # noqa: ANN201
        if self._model is None:
            from topictalk.agent import models

            self._model = models.load(self.spec)
        return self._model

    def close(self) -> None:
        if self._model is not None:
            self._model.priority.close()  # labels written in the background stop first (they hold the model)
            self._model.close()
            self._model = None


def _index(args: argparse.Namespace, shared: SharedModel | None = None,
           ready: Callable[[int], None] | None = None) -> int:
    """Build (or rebuild) the topic index of a corpus (labelled by ``shared``'s model when given, left open).
    ``ready``: commit keyword labels first and call it, then let the model label behind people's questions
    (pipeline.build's ``ready``; `demo` on a CPU)."""
    from topictalk.indexing import bertopic_model, pipeline
    from topictalk.indexing.labels import LabelSettings
    from topictalk.indexing.topics import TopicParams

    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model, "index_dir": args.index_dir})
    index_dir, location = _location(args, cfg)
    if args.gc:
        return _gc(location)
    log = _logger(args)
    columns = dict(limit=args.limit, seed=args.seed, date_field=args.date_field, facet_fields=args.facet_field)
    # read first: a model that cannot be read costs no corpus load
    topics_from = bertopic_model.read(args.bertopic_model) if getattr(args, "bertopic_model", None) else None
    corpus = load_corpus(args, log, **columns)
    sample = f", a random sample of {len(corpus)} from {corpus.sampled_from}" if corpus.sampled_from else ""
    log(f"{len(corpus)} documents from {corpus.source} ({corpus.read} read, {corpus.dropped_empty} empty and "
        f"{corpus.dropped_duplicates} duplicate dropped{sample})")
    for line in [trend_tables.columns_line(corpus.columns), *(f"warning: {r}" for r in corpus.columns.get("reported", []))]:
        if line:  # warnings: a date column not used is said even with --quiet
            log(line)
    params = TopicParams(
        n_neighbors=args.n_neighbors, n_components=args.n_components, min_dist=args.min_dist,
        random_state=None if args.random_state < 0 else args.random_state, min_cluster_size=args.min_cluster_size,
        min_samples=args.min_samples, top_n_words=args.top_n_words, ngram_range=(1, args.ngram_max),
        keep_outliers=args.keep_outliers, resolution=args.resolution, nr_topics=args.nr_topics, themes=args.themes,
    )
    settings = pipeline.IndexSettings(
        embedding_model=cfg.embedding_model, embeddings_file=args.embeddings, embed_workers=args.embed_workers,
        topics=params,
        labels=LabelSettings(doc_tokens=args.label_doc_tokens, one_shot=args.one_shot),
    )
    owned = None if shared is not None else SharedModel(cfg.llm)
    llm = None if args.no_llm else (shared or owned).get()
    if llm is not None and ready is not None:
        from topictalk.agent.llm import Background

        llm = Background(llm)
    try:
        result = pipeline.build(corpus, index_dir, settings, llm, location=location,
                                progress=progress.bars(args.quiet), log=log, topics_from=topics_from, ready=ready)
    finally:
        if owned is not None:
            owned.close()
    if ready is None:  # else the chat's log is on this terminal: the table is in the app
        print(tables.format_table(result.topics, result.themes))
    m = result.manifest
    c = m["counts"]
    rest = (f"{c['outliers']} outliers ({100 * c['outlier_share']:.1f}%)" if c["outliers"]
            else f"every document in a topic ({c['placed']} placed at their nearest)")
    print(f"\n{c['topics']} topics in {c['themes']} themes, {rest}, {m['corpus']['documents']} documents in "
          f"{location} (generation {m['generation']}, {m['timings']['total']:.0f} s)")
    print(f"time: {progress.where_the_time_went(m)}")
    return 0


def _logger(args: argparse.Namespace):
    def log(msg: str) -> None:  # --quiet keeps warnings (a corrupt cache recomputed), drops progress talk
        if not args.quiet or msg.startswith("warning:"):
            print(f"topictalk: {msg}", file=sys.stderr)

    return log


def load_corpus(args: argparse.Namespace, log, **columns):  # noqa: ANN001, ANN201
    """The documents --input or --dataset names (`index`, `demo`, `add`)."""
    from topictalk.indexing import corpus as corpus_mod

    if bool(args.input) == bool(args.dataset):
        raise TopictalkError("name the corpus: --input FILE [FILE ...] for local files, or --dataset NAME for a "
                             "Hugging Face dataset (e.g. CShorten/ML-ArXiv-Papers)")
    columns.update(text_column=args.text_column, title_column=args.title_column)
    if args.dataset:
        log(f"loading Hugging Face dataset {args.dataset} ({args.split})")
        return corpus_mod.from_dataset(args.dataset, split=args.split, **columns)
    return corpus_mod.from_files(args.input, **columns)


def _add(args: argparse.Namespace) -> int:
    """Add documents to an index: only they are embedded and placed; a new generation (ui/adding.py)."""
    from topictalk.indexing import topics
    from topictalk.ui import adding

    location = _location(args, config_mod.load({"index_dir": args.index_dir}))[1]
    with topics.lean_bertopic():  # this process is the command's; a topic the documents grow needs BERTopic
        return adding.run(args, location, lambda **columns: load_corpus(args, _logger(args), **columns))


def _topics(args: argparse.Namespace) -> int:
    """Print the topic table of an existing index, or rename, merge or split its topics (ui/refining.py)."""
    import json

    if refining.asked(args):
        from topictalk.indexing import topics

        location = _location(args, config_mod.load({"index_dir": args.index_dir}))[1]
        # a merge or a split fits its topics' words with BERTopic; this process is the command's
        with topics.lean_bertopic() if args.merge or args.split is not None else contextlib.nullcontext():
            return refining.run(args, location)
    reader = _reader(args)
    note = reuse.labels_note(reader.manifest)
    if note:  # on stderr: the table or the JSON on stdout stays what a script reads
        print(note, file=sys.stderr)
    if args.subtopics is not None:
        return refining.subtopics(reader, args)
    topic_list, themes = reader.topics(), reader.themes()
    if args.by:
        return trend_tables.topics_by(reader, args, topic_list)
    if args.json:
        print(json.dumps({**tables.as_json(topic_list, themes), "brief": reader.manifest.get("brief")},
                         indent=2, ensure_ascii=False))
    else:
        print(tables.format_table(topic_list, themes))
    return 0


def _trends(args: argparse.Namespace) -> int:
    """Each topic's share over time, and the topics that grew and shrank most."""
    return trend_tables.trends_command(_reader(args), args)


def open_conversation_parts(args: argparse.Namespace, model=None):  # noqa: ANN001
    """The shared pieces of `ask` and `chat`: the opened index and the model (loaded unless given)."""
    from topictalk.agent import models
    from topictalk.agent.retrieval import TopicIndex

    cfg = config_mod.load({"llm": args.llm, "index_dir": args.index_dir})
    _, location = _location(args, cfg)
    index = TopicIndex.open(location)
    return index, model if model is not None else models.load(cfg.llm)


def _print_sources(reply) -> None:  # noqa: ANN001
    for s in reply.sources:
        print(f"  [{s.n}] {s.title or s.id} (topic {s.topic}: {s.topic_label}) id={s.id}")


def _ask(args: argparse.Namespace) -> int:
    """Answer one question (or a conversation read from stdin) from the topic index."""
    import json

    from topictalk.agent.conversation import Conversation, Settings, checked_question

    settings = Settings(max_tokens=args.max_tokens)
    if args.question is not None:  # checked before the model loads
        if not args.question.strip():
            raise TopictalkError("the question is empty: topictalk ask \"What are the biggest topics?\"")
        checked_question(args.question, settings)
    index, model = open_conversation_parts(args)
    try:
        conversation = Conversation(index, model, settings)
        if args.question is not None:
            response = conversation.respond(args.question)
            if args.json:
                print(json.dumps(response.reply().as_dict(), indent=2, ensure_ascii=False))
                return 0
            reply = _print_streamed(response)
            if reply.sources:
                print("\nSources:")
                _print_sources(reply)
            return 0
        interactive = sys.stdin.isatty()
        if interactive:  # the model reads the prompts' fixed start while the user types the first question
            threading.Thread(target=conversation.prepare, daemon=True).start()
        while True:
            if interactive:
                print("you> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            if not line.strip():
                continue
            try:
                response = conversation.respond(line)
            except TopictalkError as err:  # one bad line (too long, say) does not end the chat
                print(f"topictalk: error: {err}", file=sys.stderr, flush=True)
                continue
            if args.json:
                print(json.dumps(response.reply().as_dict(), ensure_ascii=False), flush=True)
                continue
            print("topictalk> ", end="", flush=True)
            _print_sources(_print_streamed(response))
            print(flush=True)
    finally:
        model.close()


def _print_streamed(response):
    """Print an answer as it is written; one that its checks replaced is printed again, as replaced (a
    terminal cannot rewrite what it printed, as the app does)."""
    for chunk in response:
        print(chunk, end="", flush=True)
    reply = response.reply()
    if reply.answer_source in ("model-retry", "extractive"):
        print(f"\n\n{REVISED}\n{reply.answer}", end="")
    print()
    return reply


def _gc(location) -> int:
    """``topictalk index --gc``: delete the HNSW folders no collection owns (Chroma leaves them on delete)."""
    from topictalk.indexing import store
    from topictalk.indexing.store import folders

    if location.path is None or not (location.path / "chroma.sqlite3").is_file():
        raise TopictalkError(f"--gc cleans an embedded index folder; there is none at {location}")
    count, size = folders.remove_orphans(store.connect(location))
    print(f"removed {count} orphan HNSW folder{'s' * (count != 1)} ({size / 1e6:.1f} MB) from {location.path}")
    return 0


def _chat(args: argparse.Namespace, shared: SharedModel | None = None) -> int:
    """Serve the Gradio app: chat, topic table, data map (with ``shared``'s model when given, left open)."""
    from topictalk.agent.conversation import Settings
    from topictalk.ui import app, logins, topic_edits

    # checked before anything loads: a refused --share should cost no model load
    auth = logins.resolve_auth(share=args.share, auth=args.auth, auth_file=args.auth_file, no_auth=args.no_auth,
                               host=args.host)
    if args.forwarded_allow_ips:  # read by uvicorn and by ui.guard when the app starts
        os.environ["FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    editing = topic_edits.editing_for(args.editors, args.editable, auth)
    owned = shared is None
    # Gradio's import (app.build's) runs meanwhile the index opens and the model loads
    gradio = imports.in_background("gradio")
    index, model = open_conversation_parts(args, None if owned else shared.get())
    gradio.join()
    note = reuse.labels_note(index.manifest) if owned else None  # `demo` labels this index itself
    if note:
        print(note, flush=True)
    try:
        settings = Settings() if args.max_tokens is None else Settings(max_tokens=args.max_tokens)
        demo = app.build(app.AppParts(index, model, settings), map_points=args.map_points, editing=editing)
        app.serve(demo, app.ServeOptions(host=args.host, port=args.port, share=args.share, auth=auth),
                  log=lambda line: print(line, flush=True))
    finally:
        if owned:
            model.close()
    return 0


REVISED = "(Checked against its sources, the answer above is replaced by:)"
REFERENCE_DATASET = "CShorten/ML-ArXiv-Papers"
# Without a GPU the demo indexes a sample: embedding and one bundled-LLM label per topic and theme grow
# with it. Measured (bench/chat_start.py --demo, 2-core AVX2 EPYC): 1,500 of the bundled abstracts make
# 19 topics in 6 themes; the page answers after ~90 s with keyword labels, and the model's labels are
# in after ~305 s with nobody asking (282 s to the page when the chat waited for them).
CPU_SAMPLE = 1500


def _corpus_source(args: argparse.Namespace) -> str:
    """The name `indexing.corpus` gives this corpus (manifest["corpus"]["source"]), without reading it."""
    from topictalk.indexing import corpus

    return corpus.dataset_source(args.dataset, args.split) if args.dataset else corpus.files_source(args.input)


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _demo(args: argparse.Namespace) -> int:
    """Index the reference dataset (or --input files) unless already indexed, then open the chat."""
    from topictalk.indexing import corpus as corpus_mod
    from topictalk.indexing import reuse, sample, store
    from topictalk.ui import logins

    def log(msg: str) -> None:
        print(f"topictalk: {msg}", file=sys.stderr, flush=True)

    if args.input and args.dataset:
        raise TopictalkError("give --input FILE ... or --dataset NAME, not both")
    logins.resolve_auth(share=args.share, auth=args.auth, auth_file=args.auth_file, no_auth=args.no_auth,
                        host=args.host)
    if not args.input and not args.dataset:
        args.dataset = REFERENCE_DATASET
        why = corpus_mod.hub_problem(REFERENCE_DATASET)
        if why:  # a first run with no network still gets something real to try
            args.dataset, args.input = None, [str(sample.PATH)]
            log(f"{why}: indexing {sample.DESCRIBED} instead")
    if args.limit == 0:
        args.limit = None  # every document
    elif args.limit is None and not _has_gpu():
        args.limit = CPU_SAMPLE
        log(f"no GPU: indexing a reproducible sample of at most {CPU_SAMPLE:,} documents (seed {args.seed}), "
            "the chat opens in 1-2 minutes on a 2-core CPU and the model's labels follow in about 4 more; --limit N "
            "changes it, --limit 0 indexes every document")
    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model, "index_dir": args.index_dir})
    _, location = _location(args, cfg)
    source = _corpus_source(args)
    inputs = corpus_mod.input_paths(args.input) if args.input else None
    try:
        manifest = store.open_reader(location).manifest
    except TopictalkError:
        manifest = None
    why = (reuse.mismatch(manifest, source, args.limit, cfg.embedding_model, inputs) if manifest
           else "there is none yet")
    model = SharedModel(cfg.llm)  # loaded once, when first needed: it labels the topics, then it chats
    try:
        if why is None:
            corpus = manifest["corpus"]
            log(f"reusing the index in {location} ({corpus['documents']:,} documents from {corpus['source']}); "
                "pass another --index-dir to build a new one")
        else:
            log(f"building the index in {location}: {why}")
            if args.no_llm or args.wait_for_labels or _has_gpu():
                _index(args, model)
            else:
                _index_then_label_in_background(args, model, log)
        return _chat(args, model)
    finally:
        model.close()


def _index_then_label_in_background(args: argparse.Namespace, model: SharedModel, log) -> threading.Thread:  # noqa: ANN001
    """Index with keyword labels and return once they are committed, while the model goes on to write the
    labels and descriptions in a thread, behind every question (agent/priority.py): on a CPU the labels are
    most of the demo's time (~7 s each with AVX2 only), and the chat, the table and the map need none."""
    committed, failed = threading.Event(), []

    def run() -> None:
        try:
            _index(args, model, ready=lambda generation: committed.set())
            log("the model's labels and descriptions are written; the chat uses them now, and an open page "
                "shows them within seconds")
        except BaseException as err:  # noqa: BLE001 - said here: this thread's errors reach no caller
            failed.append(err)
            if committed.is_set():
                log(f"warning: the labels were not all written ({err}); the topics keep their keyword labels "
                    "until `topictalk demo` runs again")

    thread = threading.Thread(target=run, name="topictalk-labels", daemon=True)
    thread.start()
    while not committed.is_set() and thread.is_alive():
        committed.wait(0.2)
    if not committed.is_set():
        raise failed[0] if failed else TopictalkError("the index was not written")
    log("the chat opens with keyword labels while the model writes its own (a question comes first)")
    return thread


def _map(args: argparse.Namespace) -> int:
    """Write the static labeled map of an index (matplotlib + adjustText)."""
    from topictalk.ui import map as map_mod

    reader = _reader(args)
    topics = reader.topics()
    points = map_mod.Points.from_coordinates(reader.coordinates())
    try:
        out = map_mod.static_map(points, map_mod.labels_of(topics), Path(args.out).expanduser(), dpi=args.dpi)
    except (OSError, ValueError) as err:  # unwritable folder, unknown image format
        raise TopictalkError(f"cannot write the map to {args.out}: {err}") from err
    real = sum(not t.is_outlier for t in topics)
    print(f"wrote {out} ({len(points):,} documents, {real} topics)")
    return 0


def _export(args: argparse.Namespace) -> int:
    """Write the documents with their topics, and the topic and theme tables, as files."""
    from topictalk.indexing import export

    reader = _reader(args)
    for path in export.write(reader, Path(args.out).expanduser(), args.format):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = options.Parser(
        prog="topictalk",
        description="Talk with a corpus through its topics: index documents into topics, then chat about them.",
    )
    parser.add_argument("--version", action="version", version=f"topictalk {fingerprint.version('topictalk')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the configured and bundled models and where each file is")
    options.model_options(p)
    p.set_defaults(func=_models)

    p = sub.add_parser("index", help="build the topic index of a corpus (embed, cluster, label, store)",
                       description="Embed the documents, find topics with UMAP + HDBSCAN + BERTopic, label them "
                                   "with the LLM, and store everything in Chroma.")
    options.index_options(p)
    p.add_argument("--gc", action="store_true", help="only remove the HNSW folders that dropped generations left "
                                                      "in --index-dir (earlier versions kept them), then exit")
    p.set_defaults(func=_index)

    p = sub.add_parser("add", help="add documents to an index: embed and place only them (no re-index)")
    options.corpus_options(p)
    options.store_options(p)
    p.add_argument("--json", action="store_true", help="what was added, as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_add)

    p = sub.add_parser("topics", help="print the topics of an index; rename, merge or split them")
    options.store_options(p)
    p.add_argument("--json", action="store_true", help="a JSON list of topic objects")
    p.add_argument("--by", metavar="FIELD", help="the topics of each value of a facet (e.g. categories), or of "
                                                 "each period with --by date")
    p.add_argument("--subtopics", type=options.topic_id, metavar="TOPIC", help="print a topic's subtopics (found at "
                   "the first ask, then cached; the index is not changed)")
    options.refine_options(p)
    p.set_defaults(func=_topics)

    p = sub.add_parser("trends", help="print each topic's share over time and the topics that grew or shrank most")
    options.store_options(p)
    options.trends_options(p)
    p.set_defaults(func=_trends)

    p = sub.add_parser("ask", help="ask about the corpus; without a question, chat line by line on stdin")
    p.add_argument("question", nargs="?", help="e.g. \"What are the biggest topics?\"")
    options.store_options(p)
    p.add_argument("--llm", help="model spec (default: bundled)")
    p.add_argument("--json", action="store_true", help='print {"answer", "sources", "topics"} as JSON')
    p.add_argument("--max-tokens", type=options.at_least(1, " token"), default=GenerationOptions.max_tokens,
                   help="longest answer, in tokens")
    p.set_defaults(func=_ask)

    p = sub.add_parser("chat", help="serve the chat app in the browser (chat, topic table, data map)")
    options.store_options(p)
    p.add_argument("--llm", help="model spec (default: bundled)")
    options.serve_options(p)
    p.set_defaults(func=_chat)

    p = sub.add_parser("demo", help=f"index {REFERENCE_DATASET} (or --input files) once, then open the chat",
                       description=f"Index the reference dataset {REFERENCE_DATASET} (or --input files) with the "
                                   "`index` options, unless the index folder already holds that corpus, then serve "
                                   "the chat. Without a GPU a reproducible sample of "
                                   f"{CPU_SAMPLE:,} documents is indexed (--limit N changes it, --limit 0 takes all). "
                                   "When the hub cannot be reached, the 2,000 arXiv abstracts bundled with topictalk "
                                   "are indexed instead.")
    options.index_options(p)
    p.add_argument("--wait-for-labels", action="store_true",
                   help="open the chat once the model has labelled the topics; without a GPU it opens as soon as "
                        "the topics exist, with keyword labels, and the model's labels follow")
    options.serve_options(p)
    p.set_defaults(gc=False)  # demo indexes as `index` does, never only collects
    p.set_defaults(func=_demo)

    p = sub.add_parser("map", help="write the static labeled map of an index (PNG, SVG or PDF)")
    p.add_argument("--out", default="map.png", help="image file; the format follows the suffix (default map.png)")
    p.add_argument("--dpi", type=options.at_least(1), default=150)
    options.store_options(p)
    p.set_defaults(func=_map)

    p = sub.add_parser("export", help="write the documents with their topics, and the topic and theme tables",
                       description="Write documents.FORMAT (id, title, text, topic, theme, probability, map x/y), "
                                   "topics.FORMAT (BERTopic's get_topic_info() columns, then ours) and "
                                   "themes.FORMAT into --out.")
    p.add_argument("--format", choices=("csv", "parquet", "jsonl"), default="csv")
    p.add_argument("--out", default="topictalk-export", help="folder to write into (default topictalk-export)")
    options.store_options(p)
    p.set_defaults(func=_export)
    return parser


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
    except Exception as err:
        if not errors.disk_full(err):
            raise
        print("topictalk: error: the disk is full; nothing was lost (the live index is unchanged): free some "
              "space, or give another --index-dir, and run the command again", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
