"""What a written answer must pass: grounding and citations, the substance rule, a trim, the quotes.

One :class:`AnswerCheck` per answer, built from the context the model was given, so every check
reads the same sources, question and index snapshot. ``conversation.Response`` runs them in order:
review the draft; keep it if it is substantive, or if it is once its empty clauses are trimmed;
else ask again once; else answer with one quoted sentence per source (``extractive``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from topictalk.agent import attribution, router, substance
from topictalk.agent.context import Context
from topictalk.agent.retrieval import Snapshot


@dataclass(frozen=True)
class AnswerCheck:
    context: Context
    index: Snapshot
    question: str
    cite_at: float  # an uncited sentence this similar to a source gets its number
    ground_at: float  # a sentence less similar than this to every source sentence is dropped
    enabled: bool = True  # off: nothing is dropped and every answer passes; uncited sentences are still cited

    @property
    def asked(self) -> str:
        """The question's words, and the label of the topics it is about: "[1] studies graph neural
        networks" says nothing about a source of the Graph Neural Networks topic."""
        by_id = self.index.by_id
        return " ".join([self.question] + [by_id[t].label for t in self.context.topics if t in by_id])

    def _texts(self) -> dict[int, tuple[str, str]]:
        """Source number -> (title, text): what the substance rule reads."""
        return {s.n: (s.title, s.text) for s in self.context.sources}

    def review(self, answer: str, cited: list[int]) -> attribution.Review:
        return attribution.review(answer, cited, self.context.sentences, self.index.embed_many, question=self.asked,
                                  cite_at=self.cite_at, ground_at=self.ground_at if self.enabled else -1.0,
                                  min_support=attribution.MIN_SUPPORT if self.enabled else 0.0)

    def passes(self, review: attribution.Review) -> bool:
        return not self.enabled or substance.substantive(review.answer, self.asked, self._texts())

    def trimmed(self, review: attribution.Review) -> attribution.Review | None:
        """The answer without the clauses that say nothing of the sources they cite, when what is left
        is substantive and still cites at least half of what the answer cited (one kept clause of
        four is not the answer the model gave); else None."""
        texts = self._texts()
        answer, removed = substance.trim(review.answer, self.asked, texts)
        cited = [n for n in review.cited if f"[{n}]" in answer]
        if not removed or 2 * len(cited) < len(review.cited) or not substance.substantive(answer, self.asked, texts):
            return None
        return replace(review, answer=answer, cited=cited, by_similarity=[n for n in review.by_similarity if n in cited],
                       dropped=review.dropped + removed)

    def extractive(self) -> str:
        """One line per source: its title and its sentence nearest the question (for a search) or
        nearest what its digest was ranked by (a topic's centroid)."""
        ctx = self.context
        question = self.index.embed(self.question)
        focus = [question if ctx.plan.intent in (router.SEARCH, router.SOURCE) else f for f in ctx.focus]
        return substance.extractive([(s.n, s.title, " ".join(ctx.sentences.best(s.n, f, 1)))
                                     for s, f in zip(ctx.sources, focus)])

    def off_question(self, below: float) -> list[int]:
        """The sources none of whose sentences (or title) is ``below`` similar to the question: what the
        extractive answer says it quotes without their being about the question. Only a search's sources
        were found by the question; a topic's were chosen for the topic ("tell me about topic 2")."""
        table = self.context.sentences
        if table is None or not len(table.texts) or self.context.plan.intent not in (router.SEARCH, router.SOURCE):
            return []
        near = table.vectors @ self.index.embed(self.question)
        return [s.n for s in self.context.sources
                if not (table.owners == s.n).any() or near[table.owners == s.n].max() < below]
