"""LLM topic labels: the reference recipe's prompt, cleaned, checked, cached.

The model is anything with ``spec``, ``count_tokens(text)`` and
``complete(messages, max_tokens=, temperature=, seed=)`` (agent's models
have them); indexing never imports agent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import prompts
from indexing.schema import Topic


class Completer(Protocol):
    spec: str

    def count_tokens(self, text: str) -> int: ...

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float, seed: int) -> str: ...


@dataclass(frozen=True)
class LabelSettings:
    documents: int = 5  # representative documents shown per topic
    doc_tokens: int = 64  # token budget per document: prompt reading is most of the LLM time
    keywords: int = 10
    one_shot: bool = False  # the meat example: small models copy its label onto every topic
    max_chars: int = 80  # 60 cut real labels mid-phrase ("... in Large Language")
    max_tokens: int = 32
    temperature: float = 0.1
    seed: int = 42


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
                    count_tokens: Callable[[str], int]) -> str:
    lines = []
    for title, text in docs[: settings.documents]:
        body = f"{title}: {text}" if title else text
        lines.append("- " + truncate(" ".join(body.split()), settings.doc_tokens, count_tokens))
    return "\n".join(lines)


def build_messages(docs: Sequence[tuple[str, str]], keywords: Sequence[str], settings: LabelSettings,
                   count_tokens: Callable[[str], int]) -> list[dict]:
    """System prompt, optional one-shot example, then the topic; shared parts first for KV-cache reuse."""
    user = (prompts.load("label_user").replace("[DOCUMENTS]", _document_lines(docs, settings, count_tokens))
            .replace("[KEYWORDS]", ", ".join(keywords[: settings.keywords])))
    messages = [{"role": "system", "content": prompts.load("label_system")}]
    if settings.one_shot:
        messages += [{"role": "user", "content": prompts.load("label_example_user")},
                     {"role": "assistant", "content": prompts.load("label_example_assistant")}]
    return messages + [{"role": "user", "content": user}]


def build_retry(docs: Sequence[tuple[str, str]], settings: LabelSettings,
                count_tokens: Callable[[str], int]) -> list[dict]:
    """The second try: documents only. Small models mostly fail by echoing the keyword
    list, and asking again with the keywords in view (even in a follow-up turn
    that says so) gives the same list back; without them they name the theme."""
    user = prompts.load("label_retry").replace("[DOCUMENTS]", _document_lines(docs, settings, count_tokens))
    return [{"role": "system", "content": prompts.load("label_system")}, {"role": "user", "content": user}]


_PREFIX = re.compile(r"^\s*(?:\**\s*)?(?:topic\s+label|label|topic|title)\s*(?:\**\s*)?[:\-–]\s*", re.IGNORECASE)
_QUOTES = "\"'`*“”‘’«»_#"


def clean(raw: str, max_chars: int = 60) -> str:
    """First non-empty line, without 'Label:' prefixes, quotes, markdown or a final period, bounded."""
    line = next((ln.strip() for ln in raw.splitlines() if ln.strip()), "")
    previous = None
    while line != previous:  # peel prefixes, quotes and final punctuation in any nesting
        previous = line
        line = _PREFIX.sub("", line).strip().strip(_QUOTES).rstrip(".;:,").strip()
    line = re.sub(r"\s+", " ", line)
    if len(line) > max_chars:
        cut = line[:max_chars].rsplit(" ", 1)[0]
        line = cut.rstrip(",;:-– ")
    return line


def problem(label: str, keywords: Sequence[str], taken: set[str]) -> str | None:
    """Why a cleaned label is unusable, or None."""
    if not label:
        return "it is empty"
    if label.lower() in taken:
        return f"another topic is already labeled '{label}'"
    parts = [p.strip().lower() for p in re.split(r"[,;/|]", label) if p.strip()]
    keys = {k.lower() for k in keywords}
    if len(parts) >= 4 or (len(parts) >= 3 and sum(p in keys for p in parts) * 2 >= len(parts)):
        return "it is a list of keywords"
    return None


def keyword_label(keywords: Sequence[str], taken: set[str]) -> str:
    """Fallback: the first keywords, enough of them to be unique."""
    for n in range(3, len(keywords) + 1):
        label = ", ".join(keywords[:n])
        if label.lower() not in taken:
            return label
    return ", ".join(keywords) or "Unlabeled topic"


class LabelCache:
    """Raw LLM answers keyed by (model identity, prompt): an append-only JSON Lines file.

    Each answer is written and fsynced as one line, so a run killed
    mid-labeling keeps every label it finished. A torn last line (a crash
    mid-write) is skipped, and the next answer starts on a new line so it is
    never glued onto the torn one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        self.skipped = 0  # unreadable lines: torn writes or edits
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
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
    def key(model: str, messages: list[dict], settings: LabelSettings) -> str:
        """``model`` is :meth:`identity` of the model asked."""
        blob = json.dumps([model, messages, settings.max_tokens, settings.temperature, settings.seed])
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, key: str, answer: str) -> None:
        self.entries[key] = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n").encode("utf-8")
        with self.path.open("a+b") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a torn last line: end it, or this entry would be glued onto it
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class Labeler:
    def __init__(self, model: Completer, cache: LabelCache, settings: LabelSettings = LabelSettings()) -> None:
        self.model = model
        self.cache = cache
        self.settings = settings
        self.stats = {"asked": 0, "cached": 0, "retried": 0, "fallbacks": 0}

    def _ask(self, messages: list[dict]) -> str:
        key = LabelCache.key(LabelCache.identity(self.model), messages, self.settings)
        answer = self.cache.get(key)
        if answer is None:
            answer = self.model.complete(messages, max_tokens=self.settings.max_tokens,
                                         temperature=self.settings.temperature, seed=self.settings.seed)
            self.cache.put(key, answer)
            self.stats["asked"] += 1
        else:
            self.stats["cached"] += 1
        return answer

    def label(self, topics: Sequence[Topic], documents: dict[str, tuple[str, str]],
              progress: Callable[[int], None] | None = None) -> None:
        """Set ``label`` and ``label_source`` on every topic, biggest topics first."""
        taken: set[str] = set()
        for topic in topics:
            if topic.is_outlier:
                # the outlier topic is a leftover bin, not a theme: never sent to the LLM
                topic.label, topic.label_source = "Outliers", "outliers"
                continue
            docs = [documents[i] for i in topic.representative_ids if i in documents]
            messages = build_messages(docs, topic.keywords, self.settings, self.model.count_tokens)
            raw = self._ask(messages)
            label = clean(raw, self.settings.max_chars)
            why = problem(label, topic.keywords, taken)
            source = "llm"
            if why:
                self.stats["retried"] += 1
                retry = build_retry(docs, self.settings, self.model.count_tokens)
                label = clean(self._ask(retry), self.settings.max_chars)
                source = "llm-retry"
                if problem(label, topic.keywords, taken):
                    label, source = keyword_label(topic.keywords, taken), "keywords"
                    self.stats["fallbacks"] += 1
            topic.label, topic.label_source = label, source
            taken.add(label.lower())
            if progress is not None:
                progress(1)
