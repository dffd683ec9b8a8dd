"""Descriptions the LLM writes at index time, each sentence checked against its documents and cited.

A topic's description is written in the same call as its label (``prompts/text/label_describe_user.txt``:
a label line, then two sentences), from what the label already reads: its representative documents,
each by its title, with its most central sentence (``describe.central_sentences``) where the title is a
short headline (``labels.TITLE_WORDS``), and its keywords. A
theme's is written in its label's call too, from its topics' labels and descriptions
(``theme_describe_user.txt``). Each sentence must pass the grounding check the answers use
(``indexing/grounding.py``) against the whole text of the documents it was written from (a topic's
representative documents; for a theme, those its topics' descriptions cite) and is cited by the
document holding the sentence nearest it. A sentence that fails is dropped; when none is left, the
extractive description (``indexing/describe.py``) stays, and ``description_source`` says why.

The corpus brief reduces the theme descriptions (mapped from the topics') in one more call: a
paragraph on what the corpus covers, checked the same way, between the computed sizes; its theme
lines are the themes' own first sentences (``describe.brief``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from topictalk import prompts
from topictalk.indexing import describe, grounding
from topictalk.indexing.grounding import Embed
from topictalk.indexing.schema import Brief, Theme, Topic

COPY_AT = 0.9  # a theme's sentence this similar to one of its topics' descriptions restates that topic
MAX_SENTENCES = 3  # a description has 1-3 sentences; the prompt asks for one or two, at most 40 words
BRIEF_TOKENS = 100  # room for a paragraph of two sentences (the prompt asks for at most 60 words)
TOPIC_PROMPT, THEME_PROMPT = "label_describe_user", "theme_describe_user"  # labels.build_messages fills them
_DESCRIPTION = re.compile(r"\**\s*description\s*\**\s*[:\-–]\s*\**", re.IGNORECASE)
_PARAGRAPH = re.compile(r"^\s*\**\s*(?:paragraph|summary|overview)\s*\**\s*[:\-–]\s*\**", re.IGNORECASE)


@dataclass
class Checked:
    """What survives the grounding check of a written text."""

    text: str  # the kept sentences, each ending a sentence, so that grounding.sentences(text) gives them back
    ids: list[str]  # the document each kept sentence cites, in order
    dropped: list[str] = field(default_factory=list)  # sentences no document supports


def memo(embed: Embed) -> Embed:
    """``embed`` that embeds each text once: the central sentences, then the grounding tables of the
    same documents, read the same sentences."""
    seen: dict[str, np.ndarray] = {}

    def embed_once(texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in seen))
        if new:
            seen.update(zip(new, embed(new)))
        return np.stack([seen[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    return embed_once


def parse(raw: str) -> str:
    """The description part of a label-and-description answer: what follows "Description:", else the
    lines after the label's."""
    found = _DESCRIPTION.search(raw)
    if found:
        text = raw[found.end():]
    else:
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        text = " ".join(lines[1:])
    return _plain(text)


def _plain(text: str) -> str:
    return " ".join(text.replace("**", "").split()).strip(" \"'`")


def check(text: str, docs: Sequence[tuple[str, str, str]], embed: Embed, copies: Sequence[str] = ()) -> Checked:
    """The sentences of ``text`` grounded in ``docs`` ((id, title, text) triples), at most
    :data:`MAX_SENTENCES`, each cited by the document whose sentence (or title) is nearest it.

    The support of a sentence's words is counted over all of ``docs``: a sentence may sum up two
    documents ("... for molecules and proteins"), but it is cited by the one it rests on most.
    Also dropped: a sentence that copies one of ``copies`` (a theme's description that restates
    one of its topics' is true of that topic, not of the theme), and one holding the " ..." that
    marks a line of the prompt cut to its token budget.
    """
    said = grounding.sentences(text)
    if not said:
        return Checked("", [])
    table = grounding.SourceSentences.of([(k, title, body) for k, (_, title, body) in enumerate(docs, 1)], embed)
    if not len(table.texts):
        return Checked("", [], said)
    vectors = embed(said)
    similarities = vectors @ table.vectors.T
    copied = (vectors @ embed(list(copies)).T).max(axis=1) >= COPY_AT if copies else np.zeros(len(said), dtype=bool)
    everything = np.ones(len(table.texts), dtype=bool)
    kept, ids, dropped = [], [], []
    for k, (sentence, row) in enumerate(zip(said, similarities)):
        short = len(sentence.split()) < grounding.MIN_CLAIM_WORDS  # a fragment or a connective, not a claim
        # the answer ran out of tokens mid-sentence, or it copied a line cut in the prompt
        cut = (k == len(said) - 1 and sentence[-1] not in ".!?") or " ..." in sentence
        leans = not kept and bool(describe.LEANS_BACK.match(sentence))  # it starts mid-thought
        if short or cut or leans or copied[k] or len(kept) == MAX_SENTENCES or \
                not grounding.grounded(sentence, row, table, everything):
            dropped.append(sentence)
            continue
        kept.append(sentence if sentence[-1] in ".!?" else sentence + ".")  # so that the reader splits it here
        ids.append(docs[int(table.owners[int(np.argmax(row))]) - 1][0])
    return Checked(" ".join(kept), ids, dropped)


def topic_lines(topic: Topic, documents: dict[str, tuple[str, str]], central: dict[str, str]) -> list[tuple[str, str]]:
    """What a topic's label-and-description prompt may show of each representative document: its title
    and its most central sentence; the prompt shows a long title alone (``labels.TITLE_WORDS``), since
    reading the prompt is most of an LLM call's cost on a CPU."""
    return [(documents[i][0], central.get(i) or documents[i][1]) for i in topic.representative_ids if i in documents]


def theme_lines(theme: Theme, topics: dict[int, Topic]) -> list[tuple[str, str]]:
    """What a theme's prompt shows of each of its topics: its label and its description's first sentence."""
    return [(topics[i].label, (grounding.sentences(topics[i].description) or [", ".join(topics[i].keywords[:5])])[0])
            for i in theme.topic_ids if i in topics]


def topic_sentences(theme: Theme, topics: dict[int, Topic]) -> list[str]:
    """The sentences of a theme's topics' descriptions, which its own description must not restate."""
    return [s for i in theme.topic_ids if i in topics for s in grounding.sentences(topics[i].description)]


def theme_documents(theme: Theme, topics: dict[int, Topic]) -> list[str]:
    """The documents a theme's description is checked against: those its topics' descriptions cite."""
    return list(dict.fromkeys(d for i in theme.topic_ids if i in topics for d in topics[i].description_ids))


def apply(items: Sequence[Topic | Theme], answers: dict[int, str], sources: dict[int, list[str]],
          documents: dict[str, tuple[str, str]], embed: Embed, copies: dict[int, list[str]] | None = None) -> dict:
    """Set each item's LLM description where a sentence of its answer is grounded in ``sources[id]``
    (document ids) and copies none of ``copies[id]``; the others keep their extractive one. Returns
    counts for the manifest."""
    stats = {"llm": 0, "extractive": 0, "kept": 0, "dropped": 0}
    for item in items:
        if item.is_outlier:
            continue
        raw = answers.get(item.id, "")
        written = parse(raw)
        docs = [(i, *documents[i]) for i in sources.get(item.id, []) if i in documents]
        checked = check(written, docs, embed, (copies or {}).get(item.id, ())) if written else Checked("", [])
        stats["kept"] += len(checked.ids)
        stats["dropped"] += len(checked.dropped)
        if checked.text:
            item.description, item.description_ids, item.description_source = checked.text, checked.ids, "llm"
            stats["llm"] += 1
            continue
        why = ("no sentence grounded: " + " / ".join(checked.dropped)) if checked.dropped else "none written"
        item.description_source = f"extractive ({why})"
        stats["extractive"] += 1
    return stats


def brief_messages(themes: Sequence[Theme], documents: int) -> list[dict]:
    # each theme's first sentence: reading the prompt is most of the call's cost
    lines = "\n".join(f"- {t.label} ({t.size:,} documents): {(grounding.sentences(t.description) or [', '.join(t.keywords[:5])])[0]}"
                      for t in sorted(themes, key=lambda t: (-t.size, t.id)))
    return [{"role": "system", "content": prompts.load("label_system")},
            {"role": "user", "content": prompts.fill("brief_user", DOCUMENTS=f"{documents:,}", THEMES=lines)}]


def brief(themes: Sequence[Theme], topics: Sequence[Topic], documents: int, raw: str | None,
          texts: dict[str, tuple[str, str]], embed: Embed) -> tuple[Brief, dict]:
    """The corpus brief (``describe.brief``: sizes, a line per theme) with the model's paragraph where
    grounded in the documents the theme descriptions cite, and what became of it (for the manifest)."""
    if not raw:
        return describe.brief(themes, topics, documents), {"source": "extractive (no model)"}
    by_id = {t.id: t for t in topics}
    cited = list(dict.fromkeys(d for th in themes for d in th.description_ids or theme_documents(th, by_id)))
    restated = [s for th in themes for s in grounding.sentences(th.description)]  # a summary, not one theme's
    checked = check(_plain(_PARAGRAPH.sub("", raw.strip())), [(i, *texts[i]) for i in cited if i in texts], embed,
                    restated)
    if not checked.text:
        return (describe.brief(themes, topics, documents),
                {"source": "extractive (no sentence grounded)", "dropped": checked.dropped})
    made = describe.brief(themes, topics, documents, checked.text, list(dict.fromkeys(checked.ids)))
    return made, {"source": "llm", "kept": len(checked.ids), "dropped": checked.dropped}
