"""Make text from documents and users unable to open or close a chat turn.

Two layers. A fixed list covers the control sequences of the common chat
formats, so that even a model whose vocabulary we cannot read (a remote
server) is safe from them:

- Llama 2 / Mistral v1: ``[INST]`` ``[/INST]`` ``<<SYS>>`` ``<s>`` ``</s>``
- Mistral v3+: ``[SYSTEM_PROMPT]`` ``[TOOL_CALLS]`` ``[AVAILABLE_TOOLS]``
  ``[TOOL_RESULTS]`` ``[TOOL_CONTENT]`` ``[THINK]`` and their ``[/...]``
- ChatML / Qwen, Llama 3, Phi-3/4, Command R, gpt-oss: ``<|...|>``
- DeepSeek: ``<｜User｜>``, ``<｜end▁of▁sentence｜>`` (full-width bars)
- Gemma: ``<start_of_turn>`` ``<end_of_turn>`` ``<bos>`` ``<eos>``
- reasoning and tool tags: ``<think>`` ``<tool_call>`` ``<tool_response>``

Then the loaded model's own special and added tokens (``tokens``): its
tokenizer splits them out of any text, so a document containing one would
otherwise write a control token. Only tokens written in brackets
(``<...>`` or ``[...]``) are taken: vocabularies also add plain tokens
such as runs of spaces, which are ordinary text.

A remote model (an OpenAI-compatible server) has a vocabulary we cannot
read, and the fixed list misses tokens such as ``<start_of_image>``,
``[IMG]``, ``<fim_prefix>`` or ``[gMASK]<sop>``. For it, ``tokens`` is
:data:`UNKNOWN_VOCABULARY`, and every span shaped like a special token is
defused: ``<name>`` (a word of letters, digits, ``_``, ``▁``, ``.`` or ``-``,
as in ``<sop>``, ``<extra_id_0>``, ``<__media__>``) and ``[NAME]`` in capitals
(``[IMG_BREAK]``, ``[gMASK]``). Harmless HTML such as ``<b>`` loses its
brackets too, in what that model reads only; ``[1]``, ``a[i]`` and
``[see 2]`` stay.

A match keeps its words and loses its brackets: ``[INST]`` -> ``(INST)``,
``<|im_end|>`` -> ``(|im_end|)``, ``<end_of_turn>`` -> ``(end_of_turn)``,
which no tokenizer reads as a control token.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

_FIXED = re.compile(
    r"\[\s*/?\s*(?:INST|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CONTENT|THINK)\s*\]"
    r"|<<\s*/?\s*SYS\s*>>"
    r"|<\s*/?\s*(?:s|bos|eos|pad|unk|start_of_turn|end_of_turn|think|tool_call|tool_response)\s*>"
    r"|<[|｜][^<>|｜\n]{1,60}[|｜]>",
    re.IGNORECASE,
)
# a bracketed span that may be one of the model's own tokens (checked against the set)
# (no bracket of either kind inside, so that "[<eos>]" is still searched for "<eos>")
_BRACKETED = re.compile(r"<[^<>\[\]\s]{1,80}>|\[[^<>\[\]\s]{1,80}\]")


# what a special token of an unknown vocabulary may look like (see UNKNOWN_VOCABULARY)
# (no spaces inside: a tokenizer's token has none, and "x < y > z" is ordinary text)
_SHAPES = re.compile(r"</?[A-Za-z_][\w▁.-]{0,80}>|\[/?[a-z]?[A-Z][A-Z0-9_▁]{1,80}\]")


class _Unknown(frozenset):
    """The bracketed tokens of a vocabulary nobody can read here: all of those shapes."""


# the ``tokens`` of a model whose vocabulary is not ours to read (a remote server)
UNKNOWN_VOCABULARY: frozenset[str] = _Unknown()


def _defuse(text: str) -> str:
    if text.startswith("<<"):
        return f"(({text[2:-2].strip()}))"
    if text[1] in "|｜":
        return f"({text[1:-1]})"
    return f"({text[1:-1].strip()})"


def model_tokens(tokens: Collection[str]) -> frozenset[str]:
    """The tokens of a vocabulary that :func:`neutralize` rewrites: those written in brackets."""
    return frozenset(t for t in tokens if _BRACKETED.fullmatch(t))


def neutralize(text: str, tokens: Collection[str] = frozenset()) -> str:
    """``text`` with every control sequence of the fixed list, and every one of
    ``tokens`` (the model's special tokens, see :func:`model_tokens`, or every token shape for
    :data:`UNKNOWN_VOCABULARY`), defused."""
    text = _FIXED.sub(lambda m: _defuse(m.group(0)), text)
    if isinstance(tokens, _Unknown):
        return _SHAPES.sub(lambda m: _defuse(m.group(0)), text)
    if tokens:
        text = _BRACKETED.sub(lambda m: _defuse(m.group(0)) if m.group(0) in tokens else m.group(0), text)
    return text


def neutralize_messages(
    messages: Sequence[Mapping[str, str]], tokens: Collection[str] = frozenset()
) -> list[dict[str, str]]:
    """The messages with every content neutralized, for chat templates other than Llama 2's."""
    return [{"role": m["role"], "content": neutralize(m["content"], tokens)} for m in messages]
