"""LLM topic labels that read like section headings: asked, cleaned, checked, cached.

The model is anything with ``spec``, ``count_tokens(text)`` and
``complete(messages, GenerationOptions)``, and optionally
``complete_many(list_of_messages, GenerationOptions)`` with ``batches = True`` to label many
topics in one batch (agent's models have them); indexing never imports agent.

Every answer goes through one written rule (:func:`problem`): 1 to 6 words,
not cut mid-phrase, not a keyword list, not a copied document title or the
coined name of one paper's method, not another topic's label. An answer that
breaks it is asked again once, with the reason, keywords and document text
but no titles (titles are what small models copy); a second failure falls
back to a heading built from the topic's keyword phrases. Each rejection
reason is kept in ``label_source``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from topictalk import prompts
from topictalk.indexing.generation import GenerationOptions
from topictalk.indexing.schema import Topic


class Completer(Protocol):
    spec: str

    def count_tokens(self, text: str) -> int: ...

    def complete(self, messages: list[dict], options: GenerationOptions) -> str: ...


class BatchCompleter(Completer, Protocol):
    batches: bool

    def complete_many(self, conversations: list[list[dict]], options: GenerationOptions) -> list[str]: ...


@dataclass(frozen=True)
class LabelSettings:
    documents: int = 5  # representative documents shown per topic
    doc_tokens: int = 64  # token budget per document: prompt reading is most of the LLM time
    shown_tokens: int = 48  # per line when the lines are given (a title and one sentence; a topic and its description)
    keywords: int = 10
    one_shot: bool = False  # the meat example: small models copy its label onto every topic
    max_words: int = 6  # a heading, not a sentence; longer answers are asked again, never cut
    max_tokens: int = 24  # room for 6 words and a stray quote; a longer answer is rejected anyway
    describe: bool = True  # ask for a description in the label's call (indexing/descriptions.py)
    # a label asked with its description gets this much more room: the prompt asks for at most 40 words
    describe_tokens: int = 64
    temperature: float = GenerationOptions.temperature
    seed: int = GenerationOptions.seed


def truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest word prefix of ``text`` within ``budget`` tokens ('...' marks a cut)."""
    if count_tokens(text) <= budget:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # binary search on the word count
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " ..."


def _document_lines(docs: Sequence[tuple[str, str]], settings: LabelSettings,
                    count_tokens: Callable[[str], int], titles: str = "with") -> str:
    """A line per document: its title ``titles`` "with" its text, "without" it, or "alone" where the title
    is long enough to say what the document does (:data:`TITLE_WORDS`)."""
    lines = []
    for title, text in docs[: settings.documents]:
        body = (text if not title or titles == "without" else
                title if titles == "alone" and len(title.split()) >= TITLE_WORDS else f"{title}: {text}")
        lines.append("- " + truncate(" ".join(body.split()), settings.doc_tokens, count_tokens))
    return "\n".join(lines)


def sibling_keywords(topics: Sequence[Topic], among: Sequence[Topic]) -> dict[int, list[list[str]]]:
    """Per topic of ``topics``, the first keywords of up to four other topics of its theme in ``among``
    (an index's topics, or after an edit all of them): its label must tell it apart from them."""
    return {tp.id: [o.keywords[:3] for o in among if o.theme == tp.theme and o.id != tp.id][:4]
            for tp in topics if tp.theme is not None}


def distinct_keywords(keywords: Sequence[str]) -> list[str]:
    """``keywords`` in order without those another one says: a keyword whose words (singular) the kept ones
    before it all have ("llm" after "llms", "models llms" after both); a kept one that a later phrase
    contains gives its place to the phrase ("graph" to "graph neural"). c-TF-IDF lists a subject in all
    its n-grams: the model reads it once, in fewer tokens, at its rank."""
    kept: list[tuple[str, frozenset[str]]] = []
    for keyword in keywords:
        words = frozenset(_singular(w) for w in _norm_words(keyword))
        if not words or words <= frozenset().union(*(w for _, w in kept)):
            continue
        parts = [i for i, (_, w) in enumerate(kept) if w < words]
        if parts:  # the phrase takes its first part's place, the other parts go
            kept[parts[0]] = (keyword, words)
            kept = [item for i, item in enumerate(kept) if i not in parts[1:]]
        else:
            kept.append((keyword, words))
    return [k for k, _ in kept]


def _singular(word: str) -> str:
    """``word`` without a plural ending: "llms", "languages", "classes", "studies"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3 else word


def _keywords_line(keywords: Sequence[str], settings: LabelSettings) -> str:
    return ", ".join(distinct_keywords(keywords[: settings.keywords]))


def _siblings_line(siblings: Sequence[Sequence[str]]) -> str:
    return "; ".join(", ".join(distinct_keywords(words)) for words in siblings if words) or "none"


# the labeler's first questions, each with its system prompt: a label; a topic's label and description, a
# theme's (indexing/descriptions.py), whose system prompt holds the instructions, so that llama.cpp reads
# them once and reuses them from one topic to the next (the question's last line asks for them)
USER_PROMPTS = {"label_user": "label_system", "label_describe_user": "describe_system",
                "theme_describe_user": "describe_system"}
# A topic's label-and-description question shows a document by its title alone where the title has
# TITLE_WORDS words or more: such a title says what the document does in ~15 tokens, and reading the prompt
# was half of a label's time on a CPU (docs/speed.md, "Titles as evidence"). A shorter title is a headline
# that names one story ("Ad sales boost Time Warner profit"): shown alone, BBC topics were named after one
# story, so it keeps its sentence. The label-only question keeps BERTopic's recipe.
TITLES_ALONE = {"label_describe_user"}
TITLE_WORDS = 8  # arXiv titles: median 10 words, 79% this long or longer; BBC headlines: median 5, 0.2%


def build_messages(docs: Sequence[tuple[str, str]], keywords: Sequence[str], settings: LabelSettings,
                   count_tokens: Callable[[str], int], siblings: Sequence[Sequence[str]] = (),
                   prompt: str = "label_user") -> list[dict]:
    """System prompt, optional one-shot example, then the topic; shared parts first for KV-cache reuse.

    ``siblings`` are the keywords of the other topics of its theme: naming them asks for a label
    that tells this topic apart from its neighbours rather than one that fits the whole theme.
    ``prompt`` is the user prompt's name: one that asks for a description too has the same slots.
    """
    titles = "alone" if prompt in TITLES_ALONE else "with"
    user = prompts.fill(prompt, DOCUMENTS=_document_lines(docs, settings, count_tokens, titles),
                        KEYWORDS=_keywords_line(keywords, settings), SIBLINGS=_siblings_line(siblings))
    messages = [{"role": "system", "content": prompts.load(USER_PROMPTS[prompt])}]
    if settings.one_shot and prompt == "label_user":  # its answer is a label alone: no example of a description
        messages += [{"role": "user", "content": prompts.load("label_example_user")},
                     {"role": "assistant", "content": prompts.load("label_example_assistant")}]
    return messages + [{"role": "user", "content": user}]


def build_retry(docs: Sequence[tuple[str, str]], keywords: Sequence[str], rejected: str, reason: str,
                settings: LabelSettings, count_tokens: Callable[[str], int]) -> list[dict]:
    """The second try: the reason, the keywords and the documents' text without their titles.

    A retry that showed titles (the old documents-only prompt) brought back
    copied titles; without keywords small models drift to one paper.
    """
    user = prompts.fill("label_retry", DOCUMENTS=_document_lines(docs, settings, count_tokens, "without"),
                        KEYWORDS=_keywords_line(keywords, settings), REJECTED=rejected or "(empty)",
                        REASON=reason)
    return [{"role": "system", "content": prompts.load("label_system")}, {"role": "user", "content": user}]


_PREFIX = re.compile(r"^\s*(?:\**\s*)?(?:topic\s+label|label|topic|title|heading)\s*(?:\**\s*)?[:\-–]\s*"
                     r"|^\s*(?:the\s+)?(?:topic|label)\s+(?:is|would be|could be)\s+(?:about\s+)?", re.IGNORECASE)
_QUOTES = "\"'`*“”‘’«»_#"


def clean(raw: str) -> str:
    """First non-empty line, without 'Label:' prefixes, quotes, markdown or a final period.

    Never cut here: a label too long to use is rejected by :func:`problem`,
    then cut only before a qualifier (:func:`shortened`) or asked again, because
    a label cut at a word count ends mid-phrase ("... of CLIP and").
    """
    line = next((ln.strip() for ln in raw.splitlines() if ln.strip()), "")
    previous = None
    while line != previous:  # peel prefixes, quotes and final punctuation in any nesting
        previous = line
        line = _PREFIX.sub("", line).strip().strip(_QUOTES).rstrip(".;:,").strip()
    return re.sub(r"\s+", " ", line)


# A heading does not end on these: a label that does was cut mid-phrase.
_DANGLING = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to",
             "via", "with", "without", "versus", "vs", "using", "based", "towards", "toward", "through"}
# Coined names of one paper's method: "SuperFlow++", "MapAnything", "Brain4FMs". Plain words, acronyms
# ("LLM", "GNNs") and numbered terms ("3D", "COVID-19", "GPT-4") are not.
_COINED = re.compile(r"\+\+|[a-z][A-Z]|[A-Za-z]\d+[A-Za-z]")
_WORD = re.compile(r"[a-z0-9]+")


def _norm_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(words: list[str], run: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + run]) for i in range(len(words) - run + 1)}


def _copied_run(label: list[str], title: list[str], others: Sequence[set[tuple[str, ...]]], run: int = 4) -> bool:
    """Whether ``label`` shares ``run`` consecutive words with ``title`` that no other shown document has
    (``others``: their runs of ``run`` words): one paper's wording. "Out of Distribution Detection" in two
    documents names their subject."""
    shared = _runs(label, run) & _runs(title, run)
    return any(not any(gram in runs for runs in others) for gram in shared)


# words that name no subject of their own: "Speech Recognition Models" and "... Systems" are one name
_GENERIC = {"model", "method", "system", "approach", "technique", "framework", "application", "analysis", "study",
            "research", "algorithm", "task", "problem", "tool", "advance", "trend", "development", "issue",
            "topic", "area", "field", "work", "paper", "document", "news", "story", "report", "general"}


def _stem(word: str) -> str:
    """Plural and gerund endings off, enough to tell "Network"/"Networks", "Models"/"Modeling" are one word."""
    for end, keep in (("ies", "y"), ("ing", ""), ("es", ""), ("s", "")):
        if word.endswith(end) and len(word) - len(end) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(end)] + keep
    return word


def name_words(label: str) -> frozenset[str]:
    """What a heading names: its stemmed content words, without generic ones (unless it has nothing else)."""
    words = {_stem(w) for w in _norm_words(label) if w not in _DANGLING}
    return frozenset(words - _GENERIC) or frozenset(words)


def same_name(a: str, b: str) -> bool:
    """Whether two headings name the same thing ("England and Wales Rugby", "England Wales rugby")."""
    x = name_words(a)
    return bool(x) and x == name_words(b)


def near_same(a: str, b: str) -> bool:
    """Whether two headings are too close to tell siblings apart: the same name, or one is the other plus a
    word ("Reinforcement Learning", "Deep Reinforcement Learning"). A reader browsing a theme must see
    at a glance how its topics differ (issue 27: no two siblings with the same or near-same name)."""
    x, y = sorted((name_words(a), name_words(b)), key=len)
    return bool(x) and (x == y or (len(x) >= 2 and x <= y and len(y - x) <= 1))


COPIES_TITLE = "it copies a document's title"


def problem(label: str, keywords: Sequence[str], taken: set[str], titles: Sequence[str] = (),
            max_words: int = LabelSettings.max_words, siblings: Sequence[str] = (),
            children: Sequence[str] = (), texts: Sequence[str] = ()) -> str | None:
    """Why a cleaned label is no usable heading, or None. The one rule for labels.

    ``titles`` are the titles of the documents the model was shown, ``texts`` the same documents'
    title and text (in the same order): a phrase of one title that other documents use too is their subject,
    ``taken`` the labels (lower case) of the topics labeled before,
    ``siblings`` the labels of the other topics (themes) of its level and group, labeled before,
    ``children`` the labels of a theme's topics: a theme named after one of them names a part, not the whole.
    """
    if not label:
        return "it is empty"
    parts = [p.strip().lower() for p in re.split(r"[,;/|]", label) if p.strip()]
    keys = {k.lower() for k in keywords}
    if len(parts) >= 4 or (len(parts) >= 3 and (label.count(",") >= 2 or sum(p in keys for p in parts) * 2 >= len(parts))):
        return "it is a list of keywords"
    words = label.split()
    if len(words) > max_words:
        return f"it has {len(words)} words; a heading has 1 to {max_words}"
    if words[-1].lower().strip("-–(") in _DANGLING or label.endswith(("-", "–", "(")):
        return f"it is cut mid-phrase (ends with '{words[-1]}')"
    coined = [w for w in words if _COINED.search(w) and w.lower().strip("()") not in keys]
    if coined:
        return f"it names one document's method ({coined[0]}), not the topic"
    if ":" in label:
        return "it reads like a paper title (it has a colon)"
    norm = _norm_words(label)
    shown = [_runs(_norm_words(text), 4) for text in texts]  # each shown document's 4-word runs, once
    for i, title in enumerate(titles):
        title_words = _norm_words(title)
        others = shown[:i] + shown[i + 1:]
        if title_words and (norm == title_words or _copied_run(norm, title_words, others)):
            return COPIES_TITLE
    content = [w for w in norm if w not in _DANGLING]
    if len(set(content)) < len(content):
        return "it repeats a word"
    if label.lower() in taken:
        return f"another topic is already labeled '{label}'"
    close = next((s for s in siblings if near_same(label, s)), None)
    if close:
        return f"it is nearly the same as its neighbour '{close}'; name what sets it apart"
    part = next((c for c in children if same_name(label, c)), None)
    if part:
        return f"it is the name of one of its topics ('{part}'), not of what they share"
    return None


# where a long heading's head ends: "Reasoning Models and Reinforcement Learning | for Large Language Models"
_QUALIFIER = re.compile(r"\s+(?:for|in|on|with|via|using|through|based on|applied to|towards?)\s+", re.IGNORECASE)


def shortened(label: str, max_words: int = LabelSettings.max_words) -> str | None:
    """The head of a heading that is only too long, cut before its first qualifier ("... for X", "... in Y"),
    when that head has 2 to ``max_words`` words; else None. The 1.5B answered the retry with the same long
    heading (8-9 words) word for word: asking again could not change the outcome, cutting here can."""
    head = _QUALIFIER.split(label, maxsplit=1)[0].strip()
    return head if head != label and 2 <= len(head.split()) <= max_words else None


OUTLIERS = ("Outliers", "outliers")  # (label, label_source) of the leftover bin, never sent to a model


def label_by_keywords(items: Sequence, taken: set[str] | None = None,
                      children: dict[int, list[str]] | None = None) -> None:
    """Label topics (or themes) without an LLM: the outlier bin is "Outliers", every other item gets
    :func:`keyword_label`, distinct from ``taken``, from each other and (a theme) from its ``children``."""
    taken, children, named = set(taken or ()), children or {}, []
    for item in items:
        item.label, item.label_source = (OUTLIERS if item.is_outlier else
                                         (keyword_label(item.keywords, taken, named, children.get(item.id, ())),
                                          "keywords"))
        taken.add(item.label.lower())
        named.append(item.label)


def keyword_label(keywords: Sequence[str], taken: set[str], siblings: Sequence[str] = (),
                  children: Sequence[str] = ()) -> str:
    """Fallback: a heading from the topic's keyword phrases ("Federated Learning and Privacy").

    Phrases (bigrams) read best alone; otherwise two keywords, neither part of
    the other, are joined. The first candidate no other topic uses, and not nearly a sibling's
    or a child's name, wins; failing that, the first no other topic uses.
    """
    terms = [k.strip() for k in keywords if k.strip()]
    candidates = [k for k in terms if " " in k][:3]
    candidates += [f"{a} and {b}" for i, a in enumerate(terms) for b in terms[i + 1:] if a not in b and b not in a]
    labels = [" ".join(_heading_word(w) for w in text.split()) for text in candidates]
    free = [label for label in labels if label.lower() not in taken]
    apart = [label for label in free if not any(near_same(label, s) for s in siblings)
             and not any(same_name(label, c) for c in children)]
    return (apart or free or [", ".join(terms[:3]) or "Unlabeled topic"])[0]


# no vowel ("llm", "gnn", "nlp", "3d"), or two letters: keywords hold no stop words, so "ai", "ml" are acronyms
_ACRONYM = re.compile(r"[0-9b-df-hj-np-tv-xz]{2,5}|[a-z0-9]{2}")


def _heading_word(word: str) -> str:
    """A keyword's word as a heading writes it: an acronym in capitals, its plural's s kept small ("LLMs",
    not "Llms"; "Agents and AI", not "Ai"), "and" as it is, any other word capitalized."""
    if word.isupper() or word == "and":
        return word
    if word.endswith("s") and _ACRONYM.fullmatch(word[:-1].lower()):
        return word[:-1].upper() + "s"
    if _ACRONYM.fullmatch(word.lower()):
        return word.upper()
    return word.capitalize()


class LabelCache:
    """Raw LLM answers keyed by (model identity, prompt): an append-only JSON Lines file.

    Each answer is written and fsynced as one line, so a run killed
    mid-labeling keeps every label it finished. A torn last line (a crash
    mid-write) is skipped, and the next answer starts on a new line so it is
    never glued onto the torn one.
    """

    def __init__(self, path: Path | None) -> None:
        """``path`` None: answers are kept for this process only."""
        self.path = path
        self.entries: dict[str, str] = {}
        self.skipped = 0  # unreadable lines: torn writes or edits
        if path is not None and path.is_file():
            # split("\n"), not splitlines(): an answer may hold a raw U+2028 (put() writes it unescaped),
            # which splitlines() breaks on, losing that label and redoing it on every run
            for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry["answer"]
                except (ValueError, KeyError, TypeError):
                    self.skipped += bool(line.strip())

    @staticmethod
    def identity(model: Completer) -> str:
        """What answers are keyed by: the model's ``identity`` (its weights, or the URL and served
        model name), so new weights behind the same spec never get old labels; else its spec."""
        return getattr(model, "identity", None) or model.spec

    @staticmethod
    def key(model: str, messages: list[dict], settings: LabelSettings, max_tokens: int | None = None) -> str:
        """``model`` is :meth:`identity` of the model asked; ``max_tokens`` when not ``settings.max_tokens``."""
        blob = json.dumps([model, messages, max_tokens or settings.max_tokens, settings.temperature, settings.seed])
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, key: str, answer: str) -> None:
        self.entries[key] = answer
        if self.path is None:
            return
        line = (json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as f:
                if f.seek(0, os.SEEK_END) > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":  # a torn last line: end it, or this entry would be glued onto it
                        line = b"\n" + line
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError:  # a read-only index folder (a chat over a shared index): kept for this process only
            pass


class Labeler:
    def __init__(self, model: Completer, cache: LabelCache | None, settings: LabelSettings = LabelSettings()) -> None:
        self.model = model
        self.cache = cache if cache is not None else LabelCache(None)
        self.settings = settings
        # "usage": per kind of question (its prompt's name), the answers asked of the model, the tokens of
        # their messages (a start the runtime kept from the last call counted again) and of the answers, and
        # the seconds waited for them: where the labeling stage's time goes, for any model
        self.stats = {"asked": 0, "cached": 0, "retried": 0, "fallbacks": 0, "usage": {}}

    def ask(self, conversations: list[list[dict]], max_tokens: int | None = None,
            kind: str = "label_user") -> Iterator[str]:
        """Answers in order, each as it comes: cached ones from the cache, the rest in batches
        when the model batches (llama.cpp, a GPU, a server), else one at a time, so that progress
        moves and the cache keeps every finished answer of a run killed midway. ``max_tokens``
        defaults to a label's; the corpus brief asks for more. ``kind`` names the question in
        ``stats["usage"]`` (its prompt's name)."""
        max_tokens = max_tokens or self.settings.max_tokens
        identity = LabelCache.identity(self.model)
        keys = [LabelCache.key(identity, m, self.settings, max_tokens) for m in conversations]
        answers = [self.cache.get(k) for k in keys]
        missing = [i for i, a in enumerate(answers) if a is None]
        self.stats["cached"] += len(answers) - len(missing)
        options = GenerationOptions(max_tokens=max_tokens, temperature=self.settings.temperature,
                                    seed=self.settings.seed)
        if getattr(self.model, "batches", False) and len(missing) > 1:
            # in the model's batches when it names their size (llama.cpp on a CPU: 8), so that the cache
            # keeps each finished batch of a run killed midway
            size = getattr(self.model, "batch_size", None) or len(missing)
            fresh = (answer for start in range(0, len(missing), size)
                     for answer in self.model.complete_many([conversations[i] for i in missing[start:start + size]],
                                                            options))
        else:
            fresh = (self.model.complete(conversations[i], options) for i in missing)
        usage = self.stats["usage"].setdefault(kind, {"asked": 0, "prompt_tokens": 0, "answer_tokens": 0,
                                                       "seconds": 0.0})
        for i, cached in enumerate(answers):
            if cached is None:  # ``missing`` is in order: the next fresh answer is this one's
                started = time.perf_counter()
                cached = next(fresh)  # a batch's first answer waits for the whole batch, the others for nothing
                usage["seconds"] = round(usage["seconds"] + time.perf_counter() - started, 2)
                usage["asked"] += 1
                usage["prompt_tokens"] += sum(self.model.count_tokens(m["content"]) for m in conversations[i])
                usage["answer_tokens"] += self.model.count_tokens(cached)
                self.cache.put(keys[i], cached)
                self.stats["asked"] += 1
            yield cached

    def label(self, topics: Sequence[Topic], documents: dict[str, tuple[str, str]],
              progress: Callable[[int], None] | None = None, *, siblings: dict[int, list[list[str]]] | None = None,
              taken: set[str] | None = None, shown: dict[int, list[tuple[str, str]]] | None = None,
              prompt: str = "label_user", extra_tokens: int = 0, group: dict[int, object] | None = None,
              children: dict[int, list[str]] | None = None,
              named: dict[object, list[str]] | None = None) -> dict[int, str]:
        """Set ``label`` and ``label_source`` on every topic (or theme); biggest first win a contested label.

        All first answers are asked in one batch, then all retries in a
        second: the prompts are independent, so a batching runtime (a GPU,
        a vLLM server) serves them together. ``siblings`` maps a topic id to
        its theme's other topics' keywords; ``taken`` holds labels (lower
        case) already used elsewhere, e.g. the topics' when themes are labeled.
        ``shown`` maps an id to the (title, text) lines to show instead of its
        representative documents (a theme's topics). ``prompt`` and
        ``extra_tokens`` ask for more than the label in the first answer (its
        description): the first answers are returned by id, whole, for that.
        ``group`` maps an id to its group of siblings (a topic's theme; one group for all themes): a label
        nearly the same as a sibling's (:func:`near_same`) is asked again, as is a theme's label that
        names one of its ``children`` (its topics' labels); ``named`` holds the labels each group
        already has (the untouched topics of a refined index).
        """
        progress = progress or (lambda n: None)
        siblings = siblings or {}
        shown = shown or {}
        work = []
        for topic in topics:
            if topic.is_outlier:
                # the outlier topic is a leftover bin, not a theme: never sent to the LLM
                topic.label, topic.label_source = OUTLIERS
            else:
                work.append((topic, shown.get(topic.id) or [documents[i] for i in topic.representative_ids
                                                            if i in documents]))
        count = self.model.count_tokens
        taken = set(taken or ())
        settings = replace(self.settings, doc_tokens=self.settings.shown_tokens) if shown else self.settings
        group, children = group or {}, children or {}
        named = {g: list(labels) for g, labels in (named or {}).items()}

        def family(topic: Topic) -> tuple[list[str], list[str]]:
            """The labels it must stay apart from: its siblings' so far, and its children's."""
            mine = group.get(topic.id)
            return (named.get(mine, []) if mine is not None else []), children.get(topic.id, [])

        def check(label: str, topic: Topic, docs: list[tuple[str, str]]) -> str | None:
            siblings, kids = family(topic)
            return problem(label, topic.keywords, taken, [title for title, _ in docs], self.settings.max_words,
                           siblings, kids, [f"{title} {text}" for title, text in docs])

        def accept(topic: Topic, label: str) -> None:
            topic.label = label
            taken.add(label.lower())
            if group.get(topic.id) is not None:
                named.setdefault(group[topic.id], []).append(label)

        def head_of(label: str, why: str, topic: Topic, docs: list[tuple[str, str]]) -> str | None:
            """A heading too long to use, or one that copies a title, cut to its head when the head passes the
            whole rule (what was cut off may have been the rest of the fault: a repeated word, a title's words).
            "Hallucination Detection in Large Language Models" took one paper's wording in its qualifier; the
            1.5B answered the retry with it again and the keyword fallback was "Box Llms" (1,500 abstracts)."""
            if len(label.split()) <= self.settings.max_words and why != COPIES_TITLE:
                return None
            head = shortened(label, self.settings.max_words)
            return head if head is not None and check(head, topic, docs) is None else None

        firsts = self.ask([build_messages(docs, t.keywords, settings, count, siblings.get(t.id, ()), prompt)
                           for t, docs in work], self.settings.max_tokens + extra_tokens, prompt)
        retry, answers = [], {}
        for (topic, docs), raw in zip(work, firsts):
            answers[topic.id] = raw
            label = clean(raw)
            why = check(label, topic, docs)
            if why and (head := head_of(label, why, topic, docs)) is not None:
                label, topic.label_source = head, f"llm-shortened (first answer '{label}': {why})"
            elif why:
                retry.append((topic, docs, label, why))
                continue
            else:
                topic.label_source = "llm"
            accept(topic, label)
            progress(1)
        self.stats["retried"] += len(retry)
        seconds = self.ask([build_retry(docs, t.keywords, label, why, settings, count)
                             for t, docs, label, why in retry], kind="label_retry")
        for (topic, docs, first, why), raw in zip(retry, seconds):
            answer = clean(raw)
            why2 = check(answer, topic, docs)
            if why2 and (head := head_of(answer, why2, topic, docs)) is not None:
                answer, why2 = head, None
            if why2:
                label = keyword_label(topic.keywords, taken, *family(topic))
                topic.label_source = f"keywords (first answer '{first}': {why}; retry '{answer or '(empty)'}': {why2})"
                self.stats["fallbacks"] += 1
            else:
                label, topic.label_source = answer, f"llm-retry (first answer '{first}': {why})"
            accept(topic, label)
            progress(1)
        return answers

