"""LLM labels for a topic's subtopics: one call names all of a topic's subtopics (issues 27 and 28).

Subtopics are labelled when a reader first opens a topic, so the model's time is spent where it is seen; the
call reads short evidence (each subtopic's keywords and the titles of its two or three most central documents,
the topic's own label named once) and answers one numbered line per subtopic. Asking each subtopic alone would
read the shared instructions and the topic's context once per subtopic (measured in docs/subtopics.md).

Every line goes through the one label rule (``labels.problem``), with the subtopics accepted before it as its
siblings (``labels.near_same``) and the topic's label as taken; a line that names the topic itself
(``labels.same_name``) is refused too. A refused or missing line falls back to the keyword heading, with the
reason in ``label_source``: there is no retry call per subtopic, which would multiply the cost this call saves.
The raw answer is kept in the index's label cache (``labels.LabelCache``), keyed by the model and the prompt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from topictalk import prompts
from topictalk.indexing import labels
from topictalk.indexing.labels import Completer, LabelCache, LabelSettings

# the question (filled by name in build_messages); the system prompt is the topic labeler's, read once
PROMPT, SYSTEM = "subtopic_labels_user", "label_system"


@dataclass(frozen=True)
class SubtopicLabelSettings:
    keywords: int = 6  # per subtopic: its c-TF-IDF words against its siblings
    titles: int = 3  # of its documents nearest its centre
    title_tokens: int = 24  # a title, or a document's opening when it has none
    line_tokens: int = 16  # room per answer line: its number and a 6-word heading
    max_words: int = LabelSettings.max_words
    temperature: float = LabelSettings.temperature
    seed: int = LabelSettings.seed


@dataclass(frozen=True)
class Evidence:
    """What the model is shown of one subtopic."""

    keywords: list[str]
    titles: list[str]  # its most central documents' titles (or openings), truncated


def describe(model: Completer, settings: SubtopicLabelSettings = SubtopicLabelSettings()) -> dict:
    """What a labelled result is cached by beside the topic: the model's identity, the prompts and settings, so
    keyword-only and LLM-labelled subtopics (or two models', or an edited prompt's) never mix."""
    text = prompts.load(SYSTEM) + "\n" + prompts.load(PROMPT)
    return {"model": LabelCache.identity(model), "prompt": hashlib.sha256(text.encode()).hexdigest()[:16],
            "settings": [settings.keywords, settings.titles, settings.title_tokens, settings.line_tokens,
                         settings.max_words, settings.temperature, settings.seed]}


def evidence(keywords: Sequence[str], documents: Sequence[tuple[str, str]], model: Completer,
             settings: SubtopicLabelSettings = SubtopicLabelSettings()) -> Evidence:
    """A subtopic's evidence from its keywords and its central documents' (title, text), nearest first."""
    shown = []
    for title, text in documents[: settings.titles]:
        line = " ".join((title or text).split())
        if line:
            shown.append(labels.truncate(line, settings.title_tokens, model.count_tokens))
    return Evidence(list(keywords[: settings.keywords]), shown)


def build_messages(topic_label: str, parts: Sequence[Evidence]) -> list[dict]:
    """The system prompt, then one question holding every subtopic, numbered as the answer must be."""
    blocks = []
    for n, part in enumerate(parts, start=1):
        lines = [f"{n}. Keywords: {', '.join(part.keywords) or '(none)'}."]
        lines += [f"   - {title}" for title in part.titles]
        blocks.append("\n".join(lines))
    user = prompts.fill("subtopic_labels_user", COUNT=len(parts), TOPIC=topic_label, SUBTOPICS="\n".join(blocks))
    return [{"role": "system", "content": prompts.load(SYSTEM)}, {"role": "user", "content": user}]


def max_tokens(count: int, settings: SubtopicLabelSettings = SubtopicLabelSettings()) -> int:
    return count * settings.line_tokens + 8


# "1. X", "1) X", "**2.** X", "Sub-area 3: X", "#4 - X": the number, then the label
_NUMBERED = re.compile(r"^[\s*#>]*(?:sub-?areas?|subtopics?|topics?|labels?)?\s*#?(\d{1,2})\s*\**\s*[.):\]\-–]\s*(.*)$",
                       re.IGNORECASE)


def parse(raw: str, count: int) -> list[str | None]:
    """The cleaned label of each of ``count`` subtopics from a numbered answer; None where no line names one.

    Numbered lines are read by their number (an extra or repeated number is dropped, a missing one is None);
    an answer without any numbered line is read one label a line, in order."""
    numbered: dict[int, str] = {}
    loose: list[str] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        match = _NUMBERED.match(line)
        if match:
            n = int(match.group(1))
            if 1 <= n <= count and n not in numbered:
                numbered[n] = labels.clean(match.group(2))
        else:
            loose.append(labels.clean(line))
    if numbered:
        return [numbered.get(n) for n in range(1, count + 1)]
    return [loose[i] if i < len(loose) else None for i in range(count)]


def ask(model: Completer, messages: list[dict], count: int, cache: LabelCache | None,
        settings: SubtopicLabelSettings = SubtopicLabelSettings()) -> str:
    """The model's answer, from ``cache`` when this model was asked this before (``cache`` None: asked now)."""
    labeler = labels.Labeler(model, cache, LabelSettings(temperature=settings.temperature, seed=settings.seed))
    return next(labeler.ask([messages], max_tokens(count, settings), PROMPT))


def checked(answers: Sequence[str | None], topic_label: str, parts: Sequence[Evidence],
            max_words: int = LabelSettings.max_words) -> list[tuple[str, str]]:
    """(label, label_source) per subtopic: the model's line where it passes the label rule, else its keyword
    heading with the reason. Biggest first: an earlier subtopic's label is a sibling of every later one."""
    taken = {topic_label.lower()}
    accepted: list[str] = []
    out = []
    for n, (answer, part) in enumerate(zip(answers, parts), start=1):
        if answer is None:
            reason, source = f"the answer had no line {n}", None
        else:
            reason, source = _why(answer, part, topic_label, taken, accepted, max_words), "llm"
        if reason and answer and len(answer.split()) > max_words:
            head = labels.shortened(answer, max_words)  # cut before its qualifier: no call can do better for free
            if head is not None and _why(head, part, topic_label, taken, accepted, max_words) is None:
                answer, source, reason = head, f"llm-shortened (answer '{answer}': {reason})", None
        if reason:
            name = labels.keyword_label(part.keywords, taken, accepted)
            source = f"keywords (answer '{answer}': {reason})" if answer is not None else f"keywords ({reason})"
        else:
            name = answer
        taken.add(name.lower())
        accepted.append(name)
        out.append((name, source))
    return out


def _why(label: str, part: Evidence, topic_label: str, taken: set[str], accepted: list[str],
         max_words: int) -> str | None:
    """Why ``label`` is no usable subtopic heading (the one label rule, then not its topic's own name), or None."""
    reason = labels.problem(label, part.keywords, taken, part.titles, max_words, accepted, texts=part.titles)
    if reason is None and labels.same_name(label, topic_label):
        reason = f"it is the name of its topic ('{topic_label}'), not of a part of it"
    return reason


def label(model: Completer, topic_label: str, parts: Sequence[Evidence], cache: LabelCache | None,
          settings: SubtopicLabelSettings = SubtopicLabelSettings()) -> list[tuple[str, str]]:
    """(label, label_source) for each subtopic of the topic ``topic_label``: one call, cached, checked."""
    if not parts:
        return []
    raw = ask(model, build_messages(topic_label, parts), len(parts), cache, settings)
    return checked(parse(raw, len(parts)), topic_label, parts, settings.max_words)
