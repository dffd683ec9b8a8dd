"""The design card's rules that code review alone would miss."""

from __future__ import annotations

import ast
from pathlib import Path

import prompts

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["prompts", "indexing", "agent", "ui"]  # each may import only those before it


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_imports_flow_ui_agent_indexing_prompts():
    for rank, layer in enumerate(LAYERS):
        forbidden = set(LAYERS[rank + 1:])
        for path in (ROOT / layer).rglob("*.py"):
            bad = _imports(path) & forbidden
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}: imports flow ui -> agent -> indexing -> prompts"


def test_every_prompt_is_a_text_file_with_its_placeholders():
    assert {"label_system", "label_user", "label_example_user", "label_example_assistant", "chat_system"} <= set(
        prompts.names()
    )
    assert prompts.load("label_system") == "You are a helpful, respectful and honest assistant for labeling topics."
    user = prompts.load("label_user")
    assert "[DOCUMENTS]" in user and "The topic is described by the following keywords: '[KEYWORDS]'." in user
    assert prompts.load("label_example_assistant") == "Environmental impacts of eating meat"
