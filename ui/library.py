"""topictalk as a Python library: the objects the command line uses, for a notebook.

    import topictalk
    idx = topictalk.index(df, path="papers-index")    # a list of texts, a DataFrame, a Dataset or a file
    idx.topics()                                      # get_topic_info()'s columns, then ours
    reply = idx.ask("What are the main topics?")     # iterate it to stream; .answer, .sources, .topics
    idx.serve()                                       # the app; in Jupyter it returns at once

An ``Index`` names a Chroma index on disk (or on a Chroma server); it opens the store, the embedding
model and the LLM only when a call needs them, and keeps them for the next call. ``close()`` (or a
``with`` block) frees the LLM.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from topictalk.agent.conversation import Conversation, Reply, Response, Settings
from topictalk.agent.llm import Model
from topictalk.indexing import corpus as corpus_mod
from topictalk.indexing import store
from topictalk.indexing.errors import TopictalkError
from topictalk.ui import config as config_mod

# What index() takes, named in its error: one place for the list
ACCEPTED = ("a list of texts, a list of dicts, a pandas DataFrame, a Hugging Face Dataset, "
            "or the path of a file or folder")


class Answer:
    """One answer: iterate it for the text as the model writes it; its properties wait for the end."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[str]:
        return iter(self._response)

    def stop(self) -> None:
        """End the answer soon, from another thread; what was written stays, marked stopped."""
        self._response.stop()

    @property
    def reply(self) -> Reply:
        return self._response.reply()

    @property
    def answer(self) -> str:
        return self.reply.answer

    @property
    def sources(self) -> list:
        """The documents the answer cites, each with ``n``, ``id``, ``title``, ``topic`` and its label."""
        return self.reply.sources

    @property
    def topics(self) -> list[int]:
        return self.reply.topics

    @property
    def themes(self) -> list[int]:
        return self.reply.themes

    @property
    def intent(self) -> str:
        return self.reply.intent

    def __str__(self) -> str:
        return self.answer

    def __repr__(self) -> str:
        return f"Answer({self._response.question!r})"

    def _repr_markdown_(self) -> str:  # Jupyter shows the answer, then its sources
        lines = [self.answer]
        if self.sources:
            lines += ["", "Sources:"]
            lines += [f"{s.n}. {s.title or s.id} (topic {s.topic}: {s.topic_label})" for s in self.sources]
        return "\n".join(lines)


class Chat:
    """A conversation: follow-up questions ("and the second one?") read what was asked before."""

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation

    def ask(self, question: str) -> Answer:
        return Answer(self._conversation.respond(question))

    def reset(self) -> None:
        self._conversation.reset()


class Index:
    """An index on disk (``path``) or on a Chroma server (``host``), opened lazily."""

    def __init__(self, path: str | Path | None = None, *, name: str = store.DEFAULT_INDEX, host: str | None = None,
                 port: int = 8000, llm: str | Model | None = None, settings: Settings | None = None) -> None:
        """``llm``: a model spec (default: the configured one, loaded at the first question) or a loaded
        Model, which stays the caller's to close."""
        if (path is None) == (host is None):
            raise TopictalkError("name the index: topictalk.open(PATH) for a folder, or host= for a Chroma server")
        self.location = (store.Location(host=host, port=port, index=name) if host is not None
                         else store.Location(path=Path(path).expanduser(), index=name))
        self._llm_spec = llm if isinstance(llm, str) else None
        self.settings = settings or Settings()
        self._reader: store.Reader | None = None
        self._topic_index = None
        self._model = None if isinstance(llm, str) or llm is None else llm
        self._owns_model = self._model is None  # a model we load, we close

    # -- reading ----------------------------------------------------------------
    @property
    def reader(self) -> store.Reader:
        if self._reader is None:
            self._reader = store.open_reader(self.location)
        self._reader.refresh()  # a newer generation (a re-index, a refinement) is read from here on
        return self._reader

    @property
    def manifest(self) -> dict:
        return self.reader.manifest

    def topics(self):
        """The topic table as a DataFrame: BERTopic's get_topic_info() columns (Topic, Count, Name,
        Representation, Representative_Docs), then Label, KeyBERT, MMR, Description, Theme, ..."""
        return self._frames()["topics"]

    def themes(self):
        """The theme table (groups of topics) as a DataFrame."""
        return self._frames()["themes"]

    def documents(self):
        """Every document with its topic, theme, probability and map position, as a DataFrame."""
        return self._frames()["documents"]

    def subtopics(self, topic: int, *, llm: bool = True):
        """The subtopics of ``topic`` as a DataFrame like topics() (Subtopic, Count, Name, Representation,
        Representative_Docs, Label, Label_Source, Topic, Topic_Label): found the first time a topic is asked, then
        read from the index folder's cache; the index is not changed. No rows when it has none:
        ``.attrs["why_none"]`` says why. Labelled in one call by this Index's LLM when it was given one or the index
        was labelled by one (``llm=False``: keyword labels)."""
        from topictalk.indexing import subtopics

        model = self._labeller() if llm else None
        return subtopics.frame(subtopics.of_index(self.reader, topic, llm=model))

    def topics_over_time(self, period: str | None = None):
        """BERTopic's topics_over_time table (Topic, Words, Frequency, Timestamp, Name) from the counts the
        index stored: no refit. ``period`` ("week", "month", "quarter", "year") re-bins to a coarser one."""
        from topictalk.indexing import trends

        stored = self._trends("dates")
        try:
            stored = trends.rebin(stored, period) if period else stored
        except ValueError as err:
            raise TopictalkError(str(err).replace("--period ", "period=")) from None
        return trends.topics_over_time(stored, self.reader.topics())

    def topics_per_class(self, field: str):
        """BERTopic's topics_per_class table (Topic, Words, Frequency, Class, Name) for a group field the
        index counted (arXiv's categories, a news section, ...)."""
        from topictalk.indexing import trends

        facets = self._trends("groups").facets
        if field not in facets:
            known = ", ".join(facets) or "none"
            raise TopictalkError(f"this index counted no field {field!r} (it has: {known}); re-index with "
                                 f"--facet-field {field}")
        return trends.topics_per_class(facets[field], self.reader.topics())

    def _trends(self, what: str):
        stored = self.reader.trends()
        if stored is None or (what == "dates" and not stored.dated):
            raise TopictalkError(f"this index has no {what}: re-index with --date-field NAME"
                                 if what == "dates" else f"this index has no {what}: re-index with --facet-field NAME")
        return stored

    def _frames(self) -> dict:
        from topictalk.indexing import export

        return export.frames(self.reader)

    def map(self, max_points: int | None = None):
        """The data map as a plotly figure (each document a point, coloured by topic, topics named)."""
        from topictalk.ui import map as map_mod

        reader = self.reader
        topics, themes = reader.topics(), reader.themes()
        points = map_mod.Points.from_coordinates(reader.coordinates())
        return map_mod.figure(points, map_mod.labels_of(topics), max_points or map_mod.MAX_POINTS,
                              map_mod.labels_of(themes), map_mod.descriptions_of(topics))

    # -- changing -----------------------------------------------------------------
    # Each change writes a new generation (the old one answers until it is complete) and is kept when
    # the corpus is re-indexed with the same settings (docs/refine.md).
    def rename(self, topic: int, label: str):
        """Give ``topic`` the label ``label``."""
        from topictalk.indexing import refine

        return self._changed(refine.rename(self.location, topic, label))

    def merge(self, *topics: int):
        """Merge ``topics`` into one (it keeps the smallest id), labelled as the index was."""
        from topictalk.indexing import refine

        return self._changed(refine.merge(self.location, topics, llm=self._labeller()))

    def split(self, topic: int, parts: int | None = None):
        """Split ``topic`` into its sub-communities (at most ``parts``), each labelled as the index was."""
        from topictalk.indexing import refine

        return self._changed(refine.split(self.location, topic, parts=parts, llm=self._labeller()))

    def add(self, docs, **columns):
        """Add documents (what index() takes): only they are embedded, each placed in the topic its nearest
        documents vote for; returns what was added and how many fit no topic well."""
        from topictalk.indexing import add

        corpus_part = self.manifest.get("corpus", {})  # the index's own date and group columns
        columns.setdefault("date_field", corpus_part.get("date_field"))
        columns.setdefault("facet_fields", tuple(corpus_part.get("facet_fields") or {}))
        columns.setdefault("fields_optional", True)  # new documents without a date stay undated
        return self._changed(add.add(self.location, _corpus(docs, None, "train", **columns)))

    def _changed(self, result):
        """After a change this Index wrote: read its new generation now (tables, map and chat)."""
        self.reader.refresh(force=True)
        if self._topic_index is not None:
            self._topic_index.follow(force=True)
        return result

    def _labeller(self):
        """The LLM that labels what a merge, a split or a subtopic makes: this Index's, when it was given one or the
        index was labelled by one."""
        return self._llm() if self._model is not None or self.manifest.get("models", {}).get("llm") else None

    # -- talking ------------------------------------------------------------------
    def ask(self, question: str) -> Answer:
        """Answer one question (no history): iterate the answer to stream it."""
        return self.chat().ask(question)

    def chat(self) -> Chat:
        """A conversation with follow-ups; each chat keeps its own history."""
        return Chat(Conversation(self._index(), self._llm(), self.settings))

    def serve(self, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
              auth: tuple[str, str] | Sequence[tuple[str, str]] | None = None, no_auth: bool = False,
              editors: Sequence[str] = (), editable: bool = False, block: bool | None = None):
        """Launch the app (chat, topic table, map). ``auth``: a (user, password) pair or a list of them;
        a share link or a public ``host`` needs them (or ``no_auth=True``, on purpose). ``block`` None:
        wait for Ctrl+C in a script, return the running app at once in Jupyter (``.close()`` stops it).
        ``editors`` (logins) may rename, merge and split topics in the Topics tab; ``editable``: anyone, in
        an app without logins."""
        from topictalk.ui import app, logins, topic_edits

        pairs = [auth] if isinstance(auth, tuple) and len(auth) == 2 and isinstance(auth[0], str) else auth
        checked = logins.resolve_auth(share=share, auth=None, auth_file=None, no_auth=no_auth, host=host,
                                      logins=[tuple(p) for p in pairs] if pairs else None)
        options = app.ServeOptions(host=host, port=port or app.APP_PORT, share=share, auth=checked)
        editing = topic_edits.editing_for(list(editors), editable, checked)
        demo = app.build(app.AppParts(self._index(), self._llm(), self.settings), editing=editing)
        if block is None:
            block = "ipykernel" not in sys.modules
        app.start(demo, options)
        if block:
            app.wait(demo)
        return demo

    def _index(self):
        from topictalk.agent.retrieval import TopicIndex

        if self._topic_index is None:
            self._topic_index = TopicIndex(self.reader)
        return self._topic_index

    def _llm(self):
        from topictalk.agent import models

        if self._model is None:
            self._model = models.load(self._llm_spec or config_mod.load().llm)
        return self._model

    # -- lifetime -----------------------------------------------------------------
    def close(self) -> None:
        """Free the LLM (the store and the embedding model are freed with the object)."""
        if self._model is not None and self._owns_model:
            self._model.close()
            self._model = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        try:
            counts, n = self.manifest.get("counts", {}), self.manifest.get("corpus", {}).get("documents")
            about = f": {counts.get('topics')} topics in {counts.get('themes')} themes, {n} documents"
        except TopictalkError:
            about = " (not built yet)"
        return f"topictalk.Index({self.location}{about})"


def open(path: str | Path | None = None, **kwargs) -> Index:  # noqa: A001 - topictalk.open() reads as intended
    """The index at ``path`` (default: the configured index folder), checked to exist."""
    index = Index(path if path is not None or "host" in kwargs else config_mod.load().index_dir, **kwargs)
    index.reader  # noqa: B018 - fail here, with the store's one-line message, not at the first question
    return index


def index(docs=None, path: str | Path | None = None, *, dataset: str | None = None, split: str = "train",
          llm: str | bool | Model = True, embedding_model: str | None = None, text_column: str | None = None,
          title_column: str | None = None, limit: int | None = None, seed: int = 42, verbose: bool = True,
          name: str = store.DEFAULT_INDEX, bertopic_model: str | Path | None = None, date_field: str | None = None,
          facet_fields: Sequence[str] = (), **topic_params) -> Index:
    """Index ``docs`` (or the Hugging Face ``dataset``) into ``path`` and return the opened Index.

    ``llm``: True labels topics with the configured LLM (the bundled one by default), a spec string
    names another ("gguf:/path/model.gguf", "openai:..."), a loaded Model is used as it is, False labels
    topics by their keywords. The returned Index answers with the same model.
    ``bertopic_model``: a saved BERTopic model fitted on ``docs`` (same order): its topics, words and
    labels are kept, and topictalk adds themes, missing labels, descriptions, the map and the chat.
    ``date_field``, ``facet_fields``: the columns of dates and of groups (found by name when not given),
    counted per topic for ``topics_over_time()`` and ``topics_per_class()``.
    ``topic_params``: any field of indexing.topics.TopicParams (nr_topics, resolution, ...)."""
    from topictalk.indexing import bertopic_model as saved_model
    from topictalk.indexing import pipeline
    from topictalk.indexing.topics import TopicParams
    from topictalk.ui import progress

    cfg = config_mod.load({"embedding_model": embedding_model, "index_dir": str(path) if path else None,
                           "llm": llm if isinstance(llm, str) else None})
    topics_from = saved_model.read(bertopic_model) if bertopic_model is not None else None
    corpus = _corpus(docs, dataset, split, text_column=text_column, title_column=title_column, limit=limit,
                     seed=seed, date_field=date_field, facet_fields=tuple(facet_fields))
    try:
        params = TopicParams(**topic_params)
    except TypeError as err:
        raise TopictalkError(f"index(): {err}; see indexing.topics.TopicParams for the topic settings") from None
    settings = pipeline.IndexSettings(embedding_model=cfg.embedding_model, topics=params)
    result = Index(cfg.index_dir, name=name, llm=llm if isinstance(llm, Model) else cfg.llm)
    model = result._llm() if llm is not False else None
    pipeline.build(corpus, result.location.path, settings, model, location=result.location,
                   progress=progress.bars(not verbose),
                   log=lambda msg: print(f"topictalk: {msg}", file=sys.stderr) if verbose else None,
                   topics_from=topics_from)
    return result


def _corpus(docs, dataset: str | None, split: str, **columns) -> corpus_mod.Corpus:
    """A Corpus from what a notebook holds; the same cleaning (empty, duplicate, ids) as the files get."""
    if (docs is None) == (dataset is None):
        raise TopictalkError(f"index() takes the documents ({ACCEPTED}) or dataset='NAME', one of them")
    if dataset is not None:
        return corpus_mod.from_dataset(dataset, split=split, **columns)
    if isinstance(docs, (str, Path)):
        return corpus_mod.from_files([docs], **columns)
    if hasattr(docs, "to_dict") and hasattr(docs, "columns"):  # a pandas DataFrame
        return corpus_mod.from_records(docs.to_dict("records"), source=f"a DataFrame ({len(docs)} rows)", **columns)
    if hasattr(docs, "features") and hasattr(docs, "column_names"):  # a datasets.Dataset
        return corpus_mod.from_records(docs, source=f"a Dataset ({len(docs)} rows)", **columns)
    if isinstance(docs, Sequence) and docs and all(isinstance(d, str) for d in docs):
        return corpus_mod.from_records(({"text": d} for d in docs), source=f"a list of {len(docs)} texts", **columns)
    if isinstance(docs, Sequence) and docs and all(isinstance(d, Mapping) for d in docs):
        return corpus_mod.from_records(docs, source=f"a list of {len(docs)} records", **columns)
    if isinstance(docs, Sequence) and not docs:
        raise TopictalkError("index() got no documents: pass a non-empty list")
    raise TopictalkError(f"index() cannot read a {type(docs).__name__}: pass {ACCEPTED}")
