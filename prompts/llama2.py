"""Llama 2 chat rendering, byte for byte as Meta's reference ``chat_completion``.

Meta's llama/generation.py folds the system prompt into the first user turn,
strips each turn's content, and wraps every (user, assistant) pair as
``<s>[INST] {user} [/INST] {assistant} </s>``; the last user turn is left
open: ``<s>[INST] {user} [/INST]``. The Hugging Face chat template of
Llama-2-13b-chat-hf produces the same string. BOS/EOS are written as the
text ``<s>`` / ``</s>``; runtimes tokenize with special-token parsing on and
without adding a second BOS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"
BOS, EOS = "<s>", "</s>"

# Control sequences of the Llama 2 format (any case, stray inner spaces) and
# the <|...|> special tokens of ChatML-style models (Qwen, Phi, ...). Meta's
# reference refuses messages containing them; we keep the text readable by
# turning the angle/square brackets into parentheses, which no tokenizer
# treats as a turn boundary.
_CONTROL = re.compile(
    r"\[\s*/?\s*INST\s*\]"  # [INST] [/INST]
    r"|<<\s*/?\s*SYS\s*>>"  # <<SYS>> <</SYS>>
    r"|<\s*/?\s*s\s*>"  # <s> </s>
    r"|<\|[^<>|\n]{1,40}\|>",  # <|im_start|>, <|eot_id|>, ...
    re.IGNORECASE,
)


def _defuse(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("<|"):
        return f"(|{text[2:-2]}|)"
    if text.startswith("<<"):
        return f"(({text[2:-2].strip()}))"
    return f"({text[1:-1].strip()})"


def neutralize(text: str) -> str:
    """Make ``text`` unable to open or close a turn, keeping it readable.

    ``[INST]`` becomes ``(INST)``, ``<<SYS>>`` becomes ``((SYS))``, ``</s>``
    becomes ``(/s)``, ``<|im_end|>`` becomes ``(|im_end|)``.
    """
    return _CONTROL.sub(_defuse, text)


def neutralize_messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The messages with every content neutralized, for renderers other than :func:`format_chat`."""
    return [{"role": m["role"], "content": neutralize(m["content"])} for m in messages]


def format_chat(messages: Sequence[Mapping[str, str]]) -> str:
    """Render ``[{"role", "content"}, ...]`` to a Llama 2 chat prompt.

    An optional leading system message, then strictly alternating
    user/assistant turns ending with a user turn. Every content is passed
    through :func:`neutralize` first, so text from documents or users cannot
    forge a turn.
    """
    if not messages:
        raise ValueError("format_chat needs at least one user message")
    turns = [(m["role"], neutralize(m["content"])) for m in messages]
    if turns[0][0] == "system":
        if len(turns) < 2:
            raise ValueError("a system message must be followed by a user message")
        system = turns[0][1]
        turns = [(turns[1][0], B_SYS + system + E_SYS + turns[1][1])] + turns[2:]
    for i, (role, _) in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise ValueError(
                f"message {i + 1} has role {role!r} where {expected!r} was expected: "
                "after an optional system message, roles must alternate user/assistant"
            )
    if turns[-1][0] != "user":
        raise ValueError("the last message must come from the user")
    parts = [
        f"{BOS}{B_INST} {user.strip()} {E_INST} {answer.strip()} {EOS}"
        for (_, user), (_, answer) in zip(turns[:-1:2], turns[1::2])
    ]
    parts.append(f"{BOS}{B_INST} {turns[-1][1].strip()} {E_INST}")
    return "".join(parts)
