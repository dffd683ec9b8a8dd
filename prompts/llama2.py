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

from collections.abc import Collection, Mapping, Sequence

from topictalk.prompts.neutralize import neutralize

B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"
BOS, EOS = "<s>", "</s>"


def format_chat(messages: Sequence[Mapping[str, str]], tokens: Collection[str] = frozenset()) -> str:
    """Render ``[{"role", "content"}, ...]`` to a Llama 2 chat prompt.

    An optional leading system message, then strictly alternating
    user/assistant turns ending with a user turn. Every content is passed
    through :func:`prompts.neutralize` first (with ``tokens``, the model's own
    special tokens), so text from documents or users cannot forge a turn.
    """
    if not messages:
        raise ValueError("format_chat needs at least one user message")
    turns = [(m["role"], neutralize(m["content"], tokens)) for m in messages]
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
