"""The ``topictalk`` command: parse arguments, compose indexing/agent/ui, print one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from indexing.errors import TopictalkError
from ui import config as config_mod



def _models(args: argparse.Namespace) -> int:
    """List the configured and bundled models and where each file is."""
    from agent import bundled, models
    from indexing import embedding

    cfg = config_mod.load({"llm": args.llm, "embedding_model": args.embedding_model})
    rows: list[tuple[str, str, str]] = []
    spec = models.parse(cfg.llm)
    rows.append(("llm (configured)", cfg.llm, _llm_location(spec)))
    rows.append(("embedding (configured)", cfg.embedding_model, embedding.resolve(cfg.embedding_model)))
    rows.append(("llm (bundled)", "bundled: Qwen2.5-Coder-0.5B-Instruct Q4_K_M", str(bundled.gguf_path())))
    rows.append(("embedding (bundled)", "bundled: all-MiniLM-L6-v2", str(embedding.bundled_path())))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    for role, name, where in rows:
        print(f"{role:<{width[0]}}  {name:<{width[1]}}  {where}")
    print(f"settings from: {cfg.source}")
    return 0


def _llm_location(spec) -> str:  # noqa: ANN001
    from pathlib import Path

    from agent import bundled

    if spec.scheme == "bundled":
        return str(bundled.gguf_path())
    if spec.scheme == "llama-cpp":
        path = Path(spec.target).expanduser()
        if not path.is_file():
            raise TopictalkError(f"GGUF file not found: {path}; give an existing .gguf path (llama-cpp:PATH.gguf)")
        return str(path.resolve())
    if spec.scheme == "hf":
        return f"Hugging Face hub or folder: {spec.target}"
    return f"server {spec.target} (model {spec.model or 'first served'})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="topictalk",
        description="Talk with a corpus through its topics: index documents into topics, then chat about them.",
    )
    parser.add_argument("--version", action="version", version=f"topictalk {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the configured and bundled models and where each file is")
    _model_options(p)
    p.set_defaults(func=_models)
    return parser


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", help="model spec: bundled, llama-cpp:PATH.gguf, hf:ORG/NAME, openai:URL#MODEL")
    p.add_argument("--embedding-model", help="sentence-transformers name or folder (default: bundled MiniLM)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("topictalk")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except TopictalkError as err:
        print(f"topictalk: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topictalk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `topictalk topics | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
