"""Streamed generation and batched labels in the transformers runtime, on the
reference model's shape: the table of issue 10 for every row, in one run.

    python bench/gpu.py                 # CUDA: Llama-2-13B-chat-shaped, random weights, NF4 and bf16
    python bench/gpu.py --tiny          # CPU: the same shape shrunk (hidden 512, 8 layers), NF4 and fp32

Speed and memory do not depend on the weights' values, so a model of the
reference's shape with random weights (built here, saved with the real
Llama 2 tokenizer, ../shared/gpu/llama2-tokenizer) times the same as
Llama-2-13b-chat (../shared/gpu/README.md). Per precision it loads the
folder through ``agent.models.load("hf:FOLDER")`` once and times, on one
~1,328-token label prompt, 128 new tokens, greedy, repetition penalty 1.1:

- topictalk ``TransformersModel.stream`` (what the chat does), with time to first token;
- plain ``model.generate``;
- the reference recipe's ``transformers.pipeline("text-generation")``;
- ``generate(cache_implementation="static")``;
- plain ``generate`` without the repetition penalty.

Rows are interleaved and repeated (median of --repeat); tok/s is given over
the whole call and for decoding alone (beyond a 1-token call of the same
row), which is what streaming can cost. Then it labels --topics topics (real label prompts,
``indexing.labels.build_messages``) one at a time with ``complete`` and in
batches with ``complete_many``, and compares time and labels. Targets:
stream >= 90% of plain generate on a GPU (95% on a CPU), batched labels
>= 5x faster on a GPU and identical.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from topictalk.agent.models import load  # noqa: E402
from topictalk.indexing.generation import GenerationOptions  # noqa: E402

TOKENIZER = ROOT.parent / "shared" / "gpu" / "llama2-tokenizer"
DATA = ROOT.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"
# Llama-2-13b-chat's shape (../shared/gpu/README.md) and its CPU-sized shrink
SHAPES = {
    "13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40,
                num_key_value_heads=40),
    "tiny": dict(hidden_size=512, intermediate_size=1408,  # bitsandbytes on a CPU wants multiples of 64
                 num_hidden_layers=8, num_attention_heads=8,
                 num_key_value_heads=8),
}


def build_model(shape: str, folder: Path, tokenizer: Path) -> Path:
    """A random-weight Llama 2 chat of ``shape``, saved with the real tokenizer; its
    folder name says Llama-2 ... chat, so topictalk prompts it in Meta's format."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    target = folder / f"Llama-2-{shape}-chat-random"
    if (target / "config.json").is_file():
        return target
    config = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=1,
                         eos_token_id=2, pad_token_id=0, torch_dtype="bfloat16", **SHAPES[shape])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    start = time.perf_counter()
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # 13B in fp32 would need 52 GB before the cast
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer / name, target / name)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    print(f"built {target.name} ({config.num_hidden_layers} layers, hidden {config.hidden_size}) "
          f"on {device} in {time.perf_counter() - start:.0f}s", flush=True)
    return target


def abstracts(n: int) -> list[tuple[str, str]]:
    if DATA.is_file():
        out = []
        with gzip.open(DATA, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                out.append((row.get("title", ""), row["text"]))
                if len(out) == n:
                    break
        return out
    words = "topic models cluster documents by meaning and label each cluster with a language model".split()
    return [(f"Paper {i}", " ".join(words[(i + j) % len(words)] for j in range(220))) for i in range(n)]


def label_prompt(model, docs, keywords, tokens: int | None = None) -> list[dict]:
    """The labeler's own prompt; with ``tokens``, documents widened until it is about that long."""
    from topictalk.indexing.labels import LabelSettings, build_messages

    settings = LabelSettings()
    messages = build_messages(docs, keywords, settings, model.count_tokens)
    if tokens:
        for budget in range(8, 2000, 8):
            settings = LabelSettings(documents=len(docs), doc_tokens=budget)
            messages = build_messages(docs, keywords, settings, model.count_tokens)
            if model.count_tokens(model.render(messages)) >= tokens:
                break
    return messages


def rows(model, messages):
    """name -> run(new_tokens) timing one call: (new tokens, seconds, time to first token or None)."""
    import torch
    from transformers import pipeline

    hf, tok = model._model, model._tokenizer
    text = model.render(messages)
    ids = torch.tensor([model._encode(text)], device=hf.device)
    pipe = pipeline("text-generation", model=hf, tokenizer=tok)

    def sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def stream(new_tokens):
        start = time.perf_counter()
        first = None
        response = model.stream(messages, GenerationOptions(max_tokens=new_tokens, temperature=0, repetition_penalty=1.1))
        for _ in response:
            if first is None:
                first = time.perf_counter() - start
        sync()
        return response.usage.completion_tokens, time.perf_counter() - start, first

    def threaded(new_tokens):
        """ca3de4b's stream: generate in a thread feeding a TextIteratorStreamer, for comparison."""
        import threading

        from transformers import TextIteratorStreamer

        start = time.perf_counter()
        first = None
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, do_sample=False,
                      repetition_penalty=1.1, pad_token_id=0, streamer=streamer)

        def work():
            with torch.inference_mode():
                hf.generate(**kwargs)

        worker = threading.Thread(target=work)
        worker.start()
        for _ in streamer:
            if first is None:
                first = time.perf_counter() - start
        worker.join()
        sync()
        return new_tokens, time.perf_counter() - start, first

    def generate(**kwargs):
        def run(new_tokens):
            start = time.perf_counter()
            with torch.inference_mode():
                out = hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                  do_sample=False, pad_token_id=0, **kwargs)
            sync()
            return out.shape[1] - ids.shape[1], time.perf_counter() - start, None
        return run

    def pipe_run(new_tokens):
        start = time.perf_counter()
        out = pipe(text, max_new_tokens=new_tokens, do_sample=False, repetition_penalty=1.1, return_tensors=True,
                   add_special_tokens=False, pad_token_id=0)
        sync()
        return len(out[0]["generated_token_ids"]) - ids.shape[1], time.perf_counter() - start, None

    return {
        "topictalk TransformersModel.stream": stream,
        "plain model.generate": generate(repetition_penalty=1.1),
        "ca3de4b: generate in a thread + streamer": threaded,
        "transformers.pipeline": pipe_run,
        'generate(cache_implementation="static")': generate(repetition_penalty=1.1, cache_implementation="static"),
        "plain generate, no repetition penalty": generate(),
    }


def time_rows(model, messages, new_tokens: int, repeat: int) -> dict[str, tuple[float, float, float | None]]:
    """name -> (tok/s over the whole call, decode tok/s, time to first token).

    Decode speed is what streaming can cost: (N - 1) new tokens over the
    time a call of N tokens takes beyond a call of 1 (the prompt's reading).
    """
    cases = rows(model, messages)
    for name, run in list(cases.items()):  # warm-up: kernels, static cache compilation, allocator
        try:
            run(2)
        except Exception as err:  # noqa: BLE001 - a row this setup cannot run is reported, not fatal
            print(f"  {name}: {type(err).__name__}: {err}", flush=True)
            del cases[name]
    runs: dict[str, list[tuple[float, float, float | None]]] = {name: [] for name in cases}
    for _ in range(repeat):  # interleaved, so drift hits every row alike
        for name, run in cases.items():
            _, one, _ = run(1)
            n, seconds, first = run(new_tokens)
            runs[name].append((n / seconds, (n - 1) / max(seconds - one, 1e-9), first))
    out = {}
    for name, rs in runs.items():
        firsts = [f for _, _, f in rs if f is not None]
        out[name] = (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
                     statistics.median(firsts) if firsts else None)
    return out


def labels(model, topics: int, max_tokens: int) -> dict:
    docs = abstracts(topics * 5)
    asks = []
    for t in range(topics):
        chunk = docs[t * 5: t * 5 + 5]
        keywords = sorted({w.lower().strip(".,:;()") for _, text in chunk for w in text.split() if len(w) > 7})[:10]
        asks.append(label_prompt(model, chunk, keywords))
    prompt_tokens = statistics.median(model.count_tokens(model.render(m)) for m in asks)
    start = time.perf_counter()
    alone = [model.complete(m, GenerationOptions(max_tokens=max_tokens, temperature=0)) for m in asks]
    one_at_a_time = time.perf_counter() - start
    start = time.perf_counter()
    batched = model.complete_many(asks, GenerationOptions(max_tokens=max_tokens, temperature=0))
    many = time.perf_counter() - start
    same = sum(a == b for a, b in zip(alone, batched))
    return {"topics": topics, "prompt_tokens": prompt_tokens, "alone_s": one_at_a_time, "batched_s": many,
            "same": same, "batch_rows": model.batch_rows(int(prompt_tokens) + max_tokens)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU-sized model (hidden 512, 8 layers)")
    parser.add_argument("--precisions", default=None, help="comma list of nf4, bf16, fp32 (default: nf4,bf16 on "
                                                           "CUDA, nf4,fp32 on a CPU)")
    parser.add_argument("--prompt-tokens", type=int, default=None, help="default 1328 (256 with --tiny)")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--topics", type=int, default=None, help="topics to label (default 100; 12 with --tiny)")
    parser.add_argument("--label-precision", default=None, help="precision for the labeling run (default: the last)")
    parser.add_argument("--folder", type=Path, default=None, help="where to build the model (default: a temp dir)")
    parser.add_argument("--tokenizer", type=Path, default=TOKENIZER)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 keeps "
                                                                   "a shared machine's noise out of the ratios)")
    args = parser.parse_args()

    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)

    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        raise SystemExit("no CUDA device: run with --tiny for the CPU-sized model")
    if not (args.tokenizer / "tokenizer.json").is_file():
        raise SystemExit(f"the Llama 2 tokenizer is not at {args.tokenizer}; pass --tokenizer DIR")
    precisions = (args.precisions or ("nf4,bf16" if cuda else "nf4,fp32")).split(",")
    topics = args.topics or (12 if args.tiny else 100)
    prompt_tokens = args.prompt_tokens or (256 if args.tiny else 1328)
    work = args.folder or Path(tempfile.mkdtemp(prefix="tt-gpu-"))
    folder = build_model("tiny" if args.tiny else "13b", work, args.tokenizer)
    device = torch.cuda.get_device_name() if cuda else f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    print(f"device: {device}; torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"model: {folder.name}, random weights; {args.new_tokens} new tokens, greedy, repetition penalty 1.1; "
          f"median of {args.repeat} interleaved runs", flush=True)

    table: dict[str, dict[str, tuple[float, float | None]]] = {}
    memory: dict[str, str] = {}
    labeled = None
    for precision in precisions:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        if precision == "nf4":
            try:
                import bitsandbytes  # noqa: F401
            except ImportError:
                print("nf4: bitsandbytes is not installed (../shared/gpu/README.md installs it offline); skipped")
                continue
            spec = f"hf:{folder}"
        else:
            spec = f"hf:{folder}?quantize=none"
        with load(spec) as model:
            if precision in ("bf16", "fp32"):
                model._model.to(torch.bfloat16 if precision == "bf16" else torch.float32)
            docs = abstracts(8)
            messages = label_prompt(model, docs, ["learning", "model", "data"], prompt_tokens)
            n_prompt = model.count_tokens(model.render(messages))
            print(f"{precision}: prompt {n_prompt} tokens; timing...", flush=True)
            table[precision] = time_rows(model, messages, args.new_tokens, args.repeat)
            memory[precision] = (f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB peak" if cuda else "")
            if precision == (args.label_precision or precisions[-1]):
                print(f"{precision}: labeling {topics} topics one at a time, then batched...", flush=True)
                labeled = labels(model, topics, 32)
                labeled["precision"] = precision
        gc.collect()  # the next precision's peak memory must not count this model
        if cuda:
            torch.cuda.empty_cache()

    names = list(next(iter(table.values()))) if table else []
    print("\ntok/s: new tokens over the whole call / decode only (beyond a 1-token call); ttft: first chunk")
    print(f"{'path':<42}" + "".join(f"{p + ' ' + memory[p]:>30}" for p in table))
    for name in names:
        cells = []
        for p in table:
            whole, decode, first = table[p].get(name, (float("nan"), float("nan"), None))
            cells.append(f"{whole:.1f} / {decode:.1f}" + (f" (ttft {first:.2f}s)" if first else ""))
        print(f"{name:<42}" + "".join(f"{c:>30}" for c in cells))
    target = 0.90 if cuda else 0.95
    for p in table:
        stream = table[p].get("topictalk TransformersModel.stream", (0, float("nan")))[1]
        plain = table[p].get("plain model.generate", (0, float("nan")))[1]
        verdict = "meets" if stream >= target * plain else "MISSES"
        print(f"{p}: decode, stream / plain generate = {stream / plain:.2f} ({verdict} the {target:.0%} target)")
    if labeled:
        speed = labeled["alone_s"] / labeled["batched_s"]
        print(f"\nlabels ({labeled['precision']}): {labeled['topics']} topics, median prompt "
              f"{labeled['prompt_tokens']:.0f} tokens, 32 new tokens max, greedy; batches of {labeled['batch_rows']}")
        print(f"one at a time {labeled['alone_s']:.1f}s, complete_many {labeled['batched_s']:.1f}s: {speed:.1f}x; "
              f"identical labels {labeled['same']}/{labeled['topics']}")
    if args.folder is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
