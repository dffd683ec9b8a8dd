"""Questions in another language than the index's encoder reads: "¿Qué artículos tratan del aprendizaje por
refuerzo?" embeds far from every English abstract, and was answered as if the corpus had nothing on it.

The bundled encoder (all-MiniLM-L6-v2) and the reference one (BAAI/bge-small-en) read English. The router
already knows some corpus-level questions in other languages by their words (``corpus_rules``, the example
questions); a question with a subject needs that subject in English. This module only tells such a question
apart, by its function words or its script; the conversation has the model translate it
(``Conversation._in_english``).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")
# the commonest words of a question in each language, few enough to be rare in another's technical terms;
# words English shares ("a", "in", "on", "die") count for English only
ENGLISH = frozenset("the of and to in is are was were what which who how why when where on about for with do does "
                    "did there any papers paper documents articles work works study studies show me tell a an this "
                    "that these those it its from by or than more most".split())
OTHERS = frozenset(
    # shared by several: "de" (es, fr, pt), "en" (es, fr), "par" (fr), "von", "im", "auf" (de), "nel" (it)
    "de en par von im auf nel al "
    # Spanish
    "el la los las del que qué cuál cuáles cómo dónde por para con sobre hay artículos trabajos estudios son "
    "una unos unas tratan trata existen cuántos cuántas "
    # French
    "le les des du et pour sur avec quels quelles quel quelle comment est sont où combien parlent traitent "
    "une il y "
    # German
    "der das den dem und zu mit für über welche welcher wie gibt ist sind ein eine einen arbeiten es zum zur "
    # Italian
    "il lo gli di della delle degli che per su quali quale sono ci articoli studi "
    # Portuguese
    "os da das dos em quais há são trabalhos estudos uma sobre"
    .split()) - ENGLISH
FOREIGN_WORDS = 2  # at least this many of another language's words, and more than of English's


def foreign(question: str) -> bool:
    """Whether ``question`` is asked in another language than English: written mostly in another script
    (Cyrillic, Greek, Arabic, Chinese, ...), or with at least FOREIGN_WORDS of another language's commonest
    words and fewer of English's."""
    letters = [c for c in question if c.isalpha()]
    if letters and sum(1 for c in letters if not ("a" <= c.lower() <= "z" or "\u00c0" <= c <= "\u024f")) \
            > len(letters) / 2:
        return True
    words = [w.lower() for w in _WORD.findall(question)]
    theirs = sum(1 for w in words if w in OTHERS)
    ours = sum(1 for w in words if w in ENGLISH)
    return theirs >= FOREIGN_WORDS and theirs > ours
