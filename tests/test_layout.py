"""The design card's rules that code review alone would miss."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from topictalk import prompts

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["prompts", "indexing", "agent", "ui"]  # each may import only those before it


def _local(name: str) -> str:
    """``topictalk.agent.llm`` as the repository names it, ``agent.llm`` (the root is the package)."""
    return name.removeprefix("topictalk.") if name != "topictalk" else ""


def _imports(path: Path) -> set[str]:
    """The layers (and other top-level packages) ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_local(alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = _local(node.module)
            # ``from topictalk import prompts`` imports the layer prompts
            found |= {alias.name for alias in node.names} if not module else {module.split(".")[0]}
    return found - {""}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}


def _module_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in it, inside functions too (a lazy import
    runs later, but a cycle through it is still a cycle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [_local(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _local(node.module or "")
            if node.level:  # relative: from the package, up level - 1 folders
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from agent import models`` imports the module agent.models
            targets = [alias.name if not base else f"{base}.{alias.name}" if f"{base}.{alias.name}" in known
                       else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import prompts.llama2`` names a module; a.b.func its module
                target = target.rpartition(".")[0]
            # a submodule importing its own package is no cycle: the package is initialized first
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {name: _module_imports(name, path, set(modules)) for name, path in modules.items()}
    assert graph["agent.models"] >= {"agent.llm", "agent.llamacpp"}  # the graph sees real imports

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*trail, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = {" -> ".join(c) for c in map(cycle_from, sorted(graph)) if c}
    assert not cycles, f"import cycles (imports inside functions count): {sorted(cycles)}"


def test_imports_flow_ui_agent_indexing_prompts():
    for rank, layer in enumerate(LAYERS):
        forbidden = set(LAYERS[rank + 1:])
        for path in (ROOT / layer).rglob("*.py"):
            bad = _imports(path) & forbidden
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}: imports flow ui -> agent -> indexing -> prompts"


# every prompt file and the placeholders its callers fill; a new or renamed mark must be added here
PLACEHOLDERS = {
    "answer_example_assistant": set(),
    "answer_example_question": set(),
    "answer_example_sources": set(),
    "ask_compare": {"TOPICS", "SOURCES", "QUESTION"},
    "ask_find": {"TOPICS", "SOURCES", "QUESTION"},
    "ask_global": {"POINTS", "QUESTION"},
    "ask_overview": {"N_DOCUMENTS", "N_TOPICS", "N_OUTLIERS", "ORDER", "TOPICS", "QUESTION"},
    "ask_retry": set(),
    "ask_search": {"SOURCES", "QUESTION"},
    "ask_next_source": {"SOURCE", "N"},
    "ask_source": {"SOURCES", "QUESTION"},
    "ask_theme": {"THEME", "TOPICS", "SOURCES", "QUESTION"},
    "ask_topic": {"TOPICS", "SOURCES", "QUESTION"},
    "chat_system": set(),
    "extractive_notice": set(),
    "find_lead": {"SUBJECT", "TOPICS"},
    "label_example_assistant": set(),
    "label_example_user": set(),
    "label_retry": {"DOCUMENTS", "KEYWORDS", "REJECTED", "REASON"},
    "label_system": set(),
    "label_user": {"DOCUMENTS", "KEYWORDS", "SIBLINGS"},
    "subtopic_labels_user": {"COUNT", "TOPIC", "SUBTOPICS"},
    "label_describe_user": {"DOCUMENTS", "KEYWORDS", "SIBLINGS"},
    "theme_describe_user": {"DOCUMENTS", "KEYWORDS", "SIBLINGS"},
    "brief_user": {"DOCUMENTS", "THEMES"},
    "describe_system": set(),
    "missing_topic": {"NUMBER", "FIRST", "LAST"},
    "no_dates": set(),
    "no_topic": {"SUBJECT"},
    "no_topic_documents": {"SUBJECT", "TOPICS"},
    "not_in_documents": {"MISSING"},
    "off_corpus": {"N_DOCUMENTS", "TOPICS"},
    "spelling_note": {"READ"},
    "translate_question": {"QUESTION"},
    "translation_note": {"READ"},
    "help": {"N_DOCUMENTS", "N_TOPICS", "TOPIC", "LABEL"},
    "thanks": set(),
    "overview_themes": {"N_DOCUMENTS", "N_TOPICS", "N_THEMES"},
    "off_question_notice": {"NUMBERS"},
    "theme_lead": {"LABEL", "N_DOCUMENTS", "N_TOPICS", "TOPICS"},
}


def test_every_prompt_is_a_text_file_with_its_placeholders():
    assert set(prompts.names()) == set(PLACEHOLDERS)
    for name, marks in PLACEHOLDERS.items():
        assert prompts.placeholders(prompts.load(name)) == marks, name
    assert prompts.load("label_system") == "You are a helpful, respectful and honest assistant for labeling topics."
    assert "The topic is described by the following keywords: '[KEYWORDS]'." in prompts.load("label_user")
    assert prompts.load("label_example_assistant") == "Environmental impacts of eating meat"


def _fill_calls():
    """(file, function, prompt name or None when computed, keyword names) of every
    ``prompts.fill(...)`` in the code. A builder's ``self._ask(ctx, PROMPT, **fields)`` counts as a fill of
    PROMPT with ``fields`` and SOURCES (context.Ask fills it so, whole or source by source); Ask's own fills
    of that computed prompt are that renderer, checked at each ``_ask``."""
    for layer in LAYERS[1:]:
        for path in (ROOT / layer).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            renderer = {id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name == "Ask"
                        for f in ast.walk(c) if isinstance(f, ast.FunctionDef)}
            for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
                for node in ast.walk(function):
                    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and isinstance(node.func.value, ast.Name)):
                        continue
                    call, owner = node.func.attr, node.func.value.id
                    if call == "fill" and owner == "prompts":
                        name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                        if name is None and id(function) in renderer:
                            continue
                        yield path.relative_to(ROOT), function.name, name, {k.arg for k in node.keywords}
                    elif call == "_ask" and owner == "self":
                        template = node.args[1] if len(node.args) > 1 else None
                        name = template.value if isinstance(template, ast.Constant) else None
                        yield path.relative_to(ROOT), function.name, name, {k.arg for k in node.keywords} | {"SOURCES"}


def test_every_fill_call_gives_exactly_the_templates_placeholders():
    from topictalk.agent.intents import SEARCH, TABLE
    from topictalk.indexing.labels import USER_PROMPTS

    calls = list(_fill_calls())
    # a builder of agent/context.py fills the prompt the intent table names for it (the name is computed)
    table = {(route.builder, route.prompt) for route in TABLE.values() if route.prompt}
    # the chat's worked example is a search's prompt, filled; a source's follow-up on a reply's sources asks as
    # a search does
    table |= {("messages", TABLE[SEARCH].prompt), ("source", TABLE[SEARCH].prompt)}
    # and the labeler's first question is one of its user prompts (a label, or a label and a description)
    table |= {("build_messages", prompt) for prompt in USER_PROMPTS}
    named = {name for _, _, name, _ in calls} | {prompt for _, prompt in table}
    assert named >= {n for n, marks in PLACEHOLDERS.items() if marks}
    # a method a builder calls to make its context fills that builder's prompt
    context = ast.parse((ROOT / "agent" / "context.py").read_text(encoding="utf-8"))
    callers: dict[str, set[str]] = {}
    for method in [n for n in ast.walk(context) if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(method):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
                    and node.attr != method.name):
                callers.setdefault(node.attr, set()).add(method.name)
    for path, function, name, keys in calls:
        assert None not in keys, f"{path}: prompts.fill({name!r}, **...): name each placeholder"
        builders = {function} | callers.get(function, set())
        names = [name] if name is not None else [prompt for builder, prompt in table if builder in builders]
        assert names, f"{path}: {function} fills a computed prompt that the intent table gives it nowhere"
        for n in names:
            assert n in PLACEHOLDERS, f"{path}: prompts.fill of unknown prompt {n!r}"
            assert keys == PLACEHOLDERS[n], f"{path}: prompts.fill({n!r}) gives {keys}, wants {PLACEHOLDERS[n]}"


def test_placeholders_are_filled_by_one_renderer():
    # chained str.replace("[NAME]", ...) would substitute into inserted document text
    for layer in ("agent", "indexing", "ui"):
        for path in (ROOT / layer).rglob("*.py"):
            found = re.search(r'\.replace\(\s*"\[[A-Z_]+\]"', path.read_text(encoding="utf-8"))
            assert found is None, f"{path}: use prompts.fill"


def test_runtimes_share_one_renderer():
    # Llama 2 or the model's own template is decided in agent/llm.py's Model.render, nowhere else
    for path in (ROOT / "agent").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if path.name != "llm.py":
            assert "render" not in defined, f"{path.name} defines its own render()"


def test_the_code_imports_its_layers_under_one_name():
    # `import agent` beside `import topictalk.agent` would load every module twice (two classes of each)
    for folder in (*LAYERS, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
                bare = [n for n in names if n.split(".")[0] in LAYERS]
                assert not bare, f"{path.relative_to(ROOT)} imports {bare}: write topictalk.{bare[0]}"


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_name(tmp_path):
    """What `pip show -f topictalk` lists: topictalk/... and its dist-info, no top-level agent/ or ui/."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from importlib.metadata import version

    # built offline with the environment's setuptools (torch requires it), as pyproject's >= 68 asks
    if int(version("setuptools").split(".")[0]) < 68:
        pytest.skip("setuptools >= 68 is needed to build the wheel without the network")
    source = tmp_path / "src"
    for name in (*LAYERS, "__init__.py", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "out"), str(source)], check=True, capture_output=True, timeout=300)
    names = zipfile.ZipFile(next((tmp_path / "out").glob("*.whl"))).namelist()
    assert {n.split("/")[0] for n in names} == {"topictalk", "topictalk-0.1.0.dist-info"}
    assert {"topictalk/__init__.py", "topictalk/agent/llm.py", "topictalk/ui/cli.py", "topictalk/indexing/corpus.py",
            "topictalk/prompts/text/label_system.txt", "topictalk/agent/data/route_examples.tsv"} <= set(names)
    assert any(n.startswith("topictalk/indexing/data/") and n.endswith(".jsonl.gz") for n in names)
