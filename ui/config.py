"""Settings from the command line, the environment and an optional TOML file.

Precedence: command-line option > environment (TOPICTALK_LLM,
TOPICTALK_EMBEDDING_MODEL, TOPICTALK_INDEX_DIR) > config file
(``$TOPICTALK_CONFIG``, else ``./topictalk.toml``, else
``~/.config/topictalk/config.toml``) > built-in offline defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from topictalk.indexing.errors import TopictalkError

_KEYS = {"llm": "TOPICTALK_LLM", "embedding_model": "TOPICTALK_EMBEDDING_MODEL", "index_dir": "TOPICTALK_INDEX_DIR"}


@dataclass(frozen=True)
class Config:
    llm: str = "bundled"
    embedding_model: str = "bundled"
    index_dir: str = "topictalk-index"
    source: str = "defaults"  # where the values came from, for `topictalk models`


def config_file() -> Path | None:
    if env := os.environ.get("TOPICTALK_CONFIG"):
        return Path(env)
    for candidate in (Path("topictalk.toml"), Path.home() / ".config" / "topictalk" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def load(overrides: dict[str, str | None] | None = None) -> Config:
    values: dict[str, str] = {}
    sources = []
    path = config_file()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise TopictalkError(f"cannot read config file {path}: {err}; fix or remove it") from err
        unknown = set(data) - set(_KEYS)
        if unknown:
            raise TopictalkError(f"config file {path}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
        values.update({k: str(v) for k, v in data.items()})
        sources.append(str(path))
    for key, env in _KEYS.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
            sources.append(env)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
            sources.append(f"--{key.replace('_', '-')}")
    return Config(**values, source=", ".join(dict.fromkeys(sources)) or "defaults")
