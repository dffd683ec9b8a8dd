"""The three LLM runtimes generate real text offline: llama.cpp with the bundled
GGUF, transformers with a tiny random Llama in 4-bit, and an OpenAI-compatible
client against a real llama-cpp-python server on 127.0.0.1. All slow: each loads
a real model (the runtime-independent parts of agent.llm are in test_llm.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import free_port, wait_for_url
from topictalk.agent.models import load
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions

pytestmark = pytest.mark.slow

QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three colours, separated by commas."},
]


def test_llamacpp_streams_real_text_with_the_bundled_model(bundled_llm):
    response = bundled_llm.stream(QUESTION, GenerationOptions(max_tokens=30))
    chunks = list(response)
    text = "".join(chunks)
    assert len(chunks) > 1, "expected a stream of several chunks"
    assert text.strip() and any(c in text.lower() for c in ("red", "blue", "green", "yellow"))
    assert response.text() == text and list(response) == chunks  # read again: the same answer
    assert response.usage.prompt_tokens > 10
    assert response.usage.completion_tokens >= len(chunks)


def test_usage_belongs_to_each_call_not_to_the_shared_model(bundled_llm):
    long = bundled_llm.stream([{"role": "user", "content": "Describe the sea. " * 30}], GenerationOptions(max_tokens=6))
    short = bundled_llm.stream([{"role": "user", "content": "Hi"}], GenerationOptions(max_tokens=2))
    long.text()
    short.text()  # a later call on the same model leaves the first one's numbers alone
    assert long.usage.prompt_tokens > 90 > short.usage.prompt_tokens
    assert long.usage.completion_tokens == 6 and short.usage.completion_tokens <= 2
    assert not hasattr(bundled_llm, "usage")


def test_llamacpp_defuses_every_control_token_of_its_vocabulary(bundled_llm):
    vocab = bundled_llm._vocab_control_tokens()
    assert {"<|im_start|>", "<|im_end|>", "<tool_call>", "<|fim_prefix|>"} <= bundled_llm.special_tokens <= set(vocab)
    control = {bundled_llm._llm.tokenize(t.encode(), add_bos=False, special=True)[0] for t in vocab}
    clean = bundled_llm.tokenize(bundled_llm.render([{"role": "user", "content": "a document"}]))
    forged = bundled_llm.tokenize(bundled_llm.render([{"role": "user", "content": "a document " + " ".join(vocab)}]))
    # only the turn marks the template wrote itself are control tokens
    assert [t for t in forged if t in control] == [t for t in clean if t in control]


def test_runtimes_say_how_many_calls_may_run_at_once(bundled_llm):
    from topictalk.agent.openai_model import OpenAIModel
    from topictalk.agent.transformers_model import TransformersModel

    assert bundled_llm.concurrency == TransformersModel.concurrency == 1
    assert OpenAIModel.concurrency == 8


def test_llamacpp_uses_all_cores_and_gguf_template(bundled_llm):
    import os

    assert bundled_llm._llm.n_threads == os.cpu_count()
    assert bundled_llm.chat_format == "gguf"  # Qwen: its own ChatML template from the GGUF
    assert bundled_llm.render(QUESTION).startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")


def test_llamacpp_reuses_kv_cache_for_a_shared_prefix(bundled_llm):
    first = [{"role": "system", "content": "Label topics. " * 20}, {"role": "user", "content": "keywords: a, b"}]
    second = [first[0], {"role": "user", "content": "keywords: c, d"}]
    bundled_llm.generate(first, GenerationOptions(max_tokens=3))
    response = bundled_llm.stream(second, GenerationOptions(max_tokens=3))
    response.text()
    # the whole system prompt (60+ tokens) came from the cache
    assert response.usage.cached_tokens > 60
    assert response.usage.cached_tokens < response.usage.prompt_tokens


def test_llamacpp_reads_the_prefilled_start_from_its_copy_after_another_prompt_took_the_cache(bundled_llm):
    chat = {"role": "system", "content": "You answer questions about a corpus of papers. " * 12}
    question = [chat, {"role": "user", "content": "What is a transformer? Answer in one sentence."}]
    label = [{"role": "system", "content": "You label topics. " * 20}, {"role": "user", "content": "graphs, nodes"}]
    options = GenerationOptions(max_tokens=20, temperature=0)
    unkept = bundled_llm.stream(question, options)
    bundled_llm.generate(label, options)  # another prompt: the cache no longer starts like the question
    bundled_llm.prefill([chat, {"role": "user", "content": "What"}])
    bundled_llm.generate(label, options)  # and again, after the start was read and kept
    kept = bundled_llm.stream(question, options)
    system_tokens = len(bundled_llm.tokenize(bundled_llm.render([chat])))
    assert kept.text() == unkept.text()  # the same cache, so the same answer
    assert kept.usage.cached_tokens >= system_tokens > 100, (kept.usage, system_tokens)


class StopAfter:
    """A stop flag that is raised once the runtime has looked at it ``looks`` times."""

    def __init__(self, looks: int) -> None:
        self.looks = looks

    def is_set(self) -> bool:
        self.looks -= 1
        return self.looks < 0

    def set(self) -> None:
        self.looks = 0


def test_llamacpp_stop_ends_reading_a_long_prompt_within_a_step_and_leaves_the_model_right(bundled_llm,
                                                                                           monkeypatch):
    # llama.cpp read a prompt in one uninterruptible call (15-30 s on an AVX2 host): Stop did not free the
    # model, and Retry waited behind it (issue 33). It now reads in steps and looks at Stop between them.
    from topictalk.agent.llamacpp import PROMPT_STEP

    long = [{"role": "user", "content": "Summarize the history of the sea, its tides and its storms. " * 40}]
    other = [{"role": "user", "content": "Name three colours, separated by commas."}]
    options = GenerationOptions(max_tokens=12)
    expected = bundled_llm.generate(other, options)  # greedy: the same prompt always gets the same answer
    bundled_llm.generate([{"role": "user", "content": "Hi"}], GenerationOptions(max_tokens=1))  # a cold cache
    tokens = len(bundled_llm.tokenize(bundled_llm.render(long)))
    assert tokens > 4 * PROMPT_STEP
    response = bundled_llm.stream(long, options, StopAfter(2))
    assert response.text() == "" and response.usage.completion_tokens == 0
    llm = bundled_llm._llm
    assert llm.n_tokens < 2 * PROMPT_STEP + 40  # two steps read (after a shared prefix), not the whole prompt
    # the half-read prompt leaves nothing wrong behind: the next answer is the one a fresh model gives
    assert bundled_llm.generate(other, options) == expected
    # and a prompt read in steps is the prompt read at once
    stepped = bundled_llm.generate(long, options)
    bundled_llm.generate(other, options)
    monkeypatch.setattr("topictalk.agent.llamacpp.PROMPT_STEP", 100_000)
    assert bundled_llm.generate(long, options) == stepped and stepped


def test_llamacpp_honours_stop_and_max_tokens(bundled_llm):
    text = bundled_llm.generate(
        [{"role": "user", "content": "Count from 1 to 20, one number per line."}], GenerationOptions(max_tokens=60, stop=("5",))
    )
    assert "5" not in text and "4" in text
    short = bundled_llm.stream(QUESTION, GenerationOptions(max_tokens=2))
    assert short.text() and short.usage.completion_tokens <= 2


ONE_WORD = [("What is the capital of France?", "paris"), ("What colour is a clear daytime sky?", "blue"),
            ("Which animal says 'moo'?", None), ("How many legs does a spider have?", None),
            ("What is the largest planet of the Solar System?", None)]


def test_llamacpp_answers_decoded_together_are_the_answers_decoded_alone(bundled_llm):
    """complete_many decodes the answers together (one sequence each, agent/llamacpp_batch.py): each must be
    its own prompt's answer, as complete gives it alone (greedy), not a neighbour's or one read at the wrong
    positions; a batch's rounding may part them after some words, so the first words are compared."""
    conversations = [[{"role": "system", "content": "You answer with one word."}, {"role": "user", "content": q}]
                     for q, _ in ONE_WORD]
    conversations.append([{"role": "system", "content": "You are helpful."},
                          {"role": "user", "content": "Write one sentence about bread."}])
    greedy = GenerationOptions(max_tokens=24, temperature=0.0)
    alone = [bundled_llm.complete(c, greedy) for c in conversations]
    together = bundled_llm.complete_many(conversations, greedy)
    assert len(together) == len(conversations)
    for a, b in zip(alone, together):
        assert b.strip() and a.split()[:3] == b.split()[:3], (a, b)
    for (_, word), answer in zip(ONE_WORD, together):
        assert word is None or word in answer.lower()
    assert len(together[-1].split()) > 4  # the sentence was written, not cut at its first token


def test_llamacpp_answers_together_keep_max_tokens_stop_and_the_single_answers_cache(bundled_llm):
    count = [{"role": "user", "content": "Count from 1 to 20, one number per line."}]
    first = [{"role": "system", "content": "Label topics. " * 20}, {"role": "user", "content": "keywords: a, b"}]
    bundled_llm.generate(first, GenerationOptions(max_tokens=3))
    stopped, short = bundled_llm.complete_many([count, count], GenerationOptions(max_tokens=60, stop=("5",)))
    assert "5" not in stopped and "4" in stopped and stopped == short
    two = bundled_llm.complete_many([count, first], GenerationOptions(max_tokens=2))
    assert all(a and len(bundled_llm.tokenize(a)) <= 2 for a in two)
    # the batches ran in a context of their own: the single answers' cache still holds the last prompt
    again = bundled_llm.stream(first, GenerationOptions(max_tokens=3))
    again.text()
    assert again.usage.cached_tokens >= again.usage.prompt_tokens - 1


def test_llamacpp_answers_together_stop_between_steps_and_keep_the_answers_already_finished(bundled_llm):
    # labels written behind a person's question (agent/priority.py): a stopped batch gives None for each
    # answer not finished, and the finished ones are the answers an unstopped batch gives
    short = [{"role": "user", "content": "Reply with the single word yes."}]
    long = [{"role": "user", "content": "Count from 1 to 40, one number per line."}]
    greedy = GenerationOptions(max_tokens=80, temperature=0)
    whole = bundled_llm.complete_many([short, long], greedy)
    assert all(whole)
    mixed = None
    for looks in range(0, 400, 4):  # stopped after more and more steps, until the short answer is done
        answers = bundled_llm.complete_many([short, long], greedy, StopAfter(looks))
        assert all(a is None or a == w for a, w in zip(answers, whole))
        if answers[0] is not None and answers[1] is None:
            mixed = looks
            break
    assert mixed is not None
    assert bundled_llm.complete_many([short, long], greedy, StopAfter(0)) == [None, None]


def test_answers_are_decoded_together_within_the_sequence_and_memory_limits():
    from topictalk.agent.llamacpp_batch import MAX_SEQUENCES, groups

    assert groups([], 1) == []
    assert groups([500] * 20, 1) == [range(0, 8), range(8, 16), range(16, 20)] and MAX_SEQUENCES == 8
    # 1,000 bytes a token, a 1.2 MB budget: two prompts of 500 fit, a third does not; one alone always runs
    assert groups([500, 500, 500, 5000, 10], 1000, budget=1_200_000) == [range(0, 2), range(2, 3), range(3, 4),
                                                                         range(4, 5)]


def test_llama2_named_gguf_is_rendered_with_meta_format(bundled_gguf, tmp_path):
    link = tmp_path / "llama-2-7b-chat.Q4_K_M.gguf"
    link.symlink_to(bundled_gguf)
    with load(f"llama-cpp:{link}?n_ctx=512") as model:
        assert model.chat_format == "llama-2"
        assert model.render(QUESTION) == (
            "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\n"
            "Name three colours, separated by commas. [/INST]"
        )
        # "<s>" is parsed as the BOS control token, once
        tokens = model.tokenize(model.render(QUESTION))
        assert tokens[0] == model._llm.token_bos() and tokens.count(model._llm.token_bos()) == 1


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A 2-layer random Llama with a small BPE tokenizer, saved as a local HF folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["federated learning keeps data on the clients [INST] <<SYS>>"] * 10, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   additional_special_tokens=["<custom_turn>"])
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=512, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_transformers_loads_4bit_nf4_and_generates(tiny_llama):
    import bitsandbytes as bnb
    import torch

    with load(f"hf:{tiny_llama}") as model:
        q = model._model.config.quantization_config
        assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
        assert q.bnb_4bit_compute_dtype == torch.bfloat16
        assert isinstance(model._model.model.layers[0].mlp.up_proj, bnb.nn.Linear4bit)
        assert model.llama2  # no chat template: a Llama gets Meta's format
        chunks = list(model.stream([{"role": "user", "content": "federated learning"}], GenerationOptions(max_tokens=8)))
        assert chunks and "".join(chunks)
        # prompt: BOS once + the rendered text, no second BOS from the tokenizer
        ids = model._tokenizer(model.render([{"role": "user", "content": "x"}]), add_special_tokens=False)["input_ids"]
        assert ids.count(model._tokenizer.bos_token_id) == 1 and ids[0] == model._tokenizer.bos_token_id


TOPICS = [
    [{"role": "system", "content": "Label topics."}, {"role": "user", "content": "keywords: federated, clients"}],
    [{"role": "user", "content": "learning"}],
    [{"role": "system", "content": "Label topics briefly."},
     {"role": "user", "content": "keywords: data on the clients, federated learning keeps data, [INST]"}],
    [{"role": "user", "content": "the clients keep data"}],
    [{"role": "user", "content": "federated learning keeps data on the clients " * 3}],
]


def test_transformers_stream_is_plain_generate_greedy(tiny_llama):
    """The caller's-thread decode loop picks the tokens transformers' generate picks."""
    import torch

    with load(f"hf:{tiny_llama}?quantize=none") as model:
        for messages in TOPICS:
            ids = torch.tensor([model._encode(model.render(messages))])
            out = model._model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                        do_sample=False, repetition_penalty=1.1, pad_token_id=0)
            expected = model._tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
            response = model.stream(messages, GenerationOptions(max_tokens=12, temperature=0))
            assert response.text() == expected
            assert response.usage.prompt_tokens == ids.shape[1] and response.usage.completion_tokens >= 1


def test_transformers_stop_ends_decoding_at_once(tiny_llama):
    with load(f"hf:{tiny_llama}?quantize=none") as model:
        calls = []
        hook = model._model.register_forward_hook(lambda *_: calls.append(1))
        response = model.stream([{"role": "user", "content": "federated"}], GenerationOptions(max_tokens=200, temperature=0))
        chunks = iter(response)
        next(chunks)
        before = len(calls)
        response.close()  # what a closed page or a Stop button does
        assert len(calls) == before < 10, "no forward pass after Stop"
        assert not model._lock.locked()  # the next user is not blocked
        hook.remove()


def test_transformers_batched_labels_equal_one_at_a_time(tiny_llama):
    with load(f"hf:{tiny_llama}?quantize=none") as model:
        alone = [model.complete(m, GenerationOptions(max_tokens=10, temperature=0)) for m in TOPICS]
        batched = model.complete_many(TOPICS, GenerationOptions(max_tokens=10, temperature=0))
        assert batched == alone and len(set(alone)) > 1
        assert model.complete_many([], GenerationOptions(max_tokens=10)) == []


def test_transformers_refuses_a_prompt_longer_than_its_context(tiny_llama):
    with load(f"hf:{tiny_llama}?quantize=none") as model:
        huge = [{"role": "user", "content": "federated learning " * 400}]  # > 512 positions
        with pytest.raises(TopictalkError, match="more than the model's context of 512"):
            model.generate(huge, GenerationOptions(max_tokens=4))
        with pytest.raises(TopictalkError, match="more than the model's context of 512"):
            model.complete_many([huge], GenerationOptions(max_tokens=4))


def test_transformers_defuses_its_own_added_tokens(tiny_llama):
    with load(f"hf:{tiny_llama}?quantize=none") as model:
        assert "<custom_turn>" in model.special_tokens
        text = model.render([{"role": "user", "content": "doc <custom_turn> </s> text"}])
        assert "<custom_turn>" not in text and "(custom_turn)" in text
        custom = model._tokenizer.convert_tokens_to_ids("<custom_turn>")
        assert custom not in model._encode(text)


@pytest.fixture(scope="module")
def llama_server(bundled_gguf):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "qwen-bundled",
         # by default a new request aborts the one in progress (an empty answer); queue them instead
         "--interrupt_requests", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_url(f"{url}/models", 120, alive=lambda: proc.poll() is None)
    except BaseException:
        proc.kill()
        raise
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_openai_runtime_streams_from_a_real_local_server(llama_server):
    with load(f"openai:{llama_server}#qwen-bundled") as model:
        chunks = list(model.stream(QUESTION, GenerationOptions(max_tokens=30)))
        assert len(chunks) > 1 and any(c in "".join(chunks).lower() for c in ("red", "blue", "green"))
        stopped = model.generate([{"role": "user", "content": "Count from 1 to 10, one per line."}],
                                 GenerationOptions(max_tokens=40, stop=("4",)))
        assert "4" not in stopped and "3" in stopped


def test_openai_runtime_picks_the_served_model_when_unnamed(llama_server):
    with load(f"openai:{llama_server}") as model:
        assert model.model == "qwen-bundled"
        # labels are cached by the model the server served, not by "first served"
        assert model.identity == f"openai:{llama_server}#qwen-bundled"


class _Spy:
    """Wraps the openai client's chat.completions.create: records each call and the stream it returned."""

    def __init__(self, model, refuse_penalty: bool = False, refuse_text: str | None = None) -> None:
        self.create = model._client.chat.completions.create
        self.calls: list[dict] = []
        self.streams = []
        self.threads: set[int] = set()
        self.refuse_penalty = refuse_penalty
        self.refuse_text = refuse_text
        model._client.chat.completions.create = self

    def __call__(self, **kwargs):
        import threading

        import httpx
        from openai import BadRequestError

        self.calls.append(kwargs)
        self.threads.add(threading.get_ident())
        response = httpx.Response(400, request=httpx.Request("POST", "http://x/v1/chat/completions"))
        if self.refuse_penalty and kwargs.get("extra_body"):
            raise BadRequestError("unknown field repeat_penalty", response=response, body=None)
        if self.refuse_text and any(self.refuse_text in m["content"] for m in kwargs["messages"]):
            raise BadRequestError("the prompt exceeds the context", response=response, body=None)
        stream = self.create(**kwargs)
        self.streams.append(stream)
        return stream


def test_openai_stop_closes_the_servers_stream(llama_server):
    with load(f"openai:{llama_server}#qwen-bundled") as model:
        spy = _Spy(model)
        response = model.stream([{"role": "user", "content": "Count from 1 to 500, one per line."}],
                                GenerationOptions(max_tokens=1000))
        chunks = iter(response)
        next(chunks)
        assert not spy.streams[0].response.is_closed
        response.close()  # Stop
        # the connection is closed, so the server stops generating (llama_cpp.server and vLLM
        # both abort a request whose client disconnected) instead of decoding 1,000 tokens
        assert spy.streams[0].response.is_closed
        assert model.generate(QUESTION, GenerationOptions(max_tokens=5))  # and the server serves the next one


def test_openai_one_refused_request_keeps_the_penalty_for_everyone(llama_server):
    with load(f"openai:{llama_server}#qwen-bundled") as model:
        spy = _Spy(model, refuse_text="HUGE")
        with pytest.raises(TopictalkError, match="refused the request"):
            # one user's request the server refuses for another reason than the penalty fields
            model.generate([{"role": "user", "content": "HUGE question"}], GenerationOptions(max_tokens=5))
        model.generate(QUESTION, GenerationOptions(max_tokens=3))
        assert spy.calls[-1]["extra_body"] == {"repetition_penalty": 1.1, "repeat_penalty": 1.1}


def test_openai_a_server_refusing_the_penalty_fields_still_answers(llama_server):
    with load(f"openai:{llama_server}#qwen-bundled") as model:
        spy = _Spy(model, refuse_penalty=True)
        assert model.generate(QUESTION, GenerationOptions(max_tokens=5))
        assert model.generate(QUESTION, GenerationOptions(max_tokens=5))
        # refused once, then proven: later calls do not ask again
        assert [bool(c.get("extra_body")) for c in spy.calls] == [True, False, False]


def test_openai_n_ctx_option_sets_the_context(llama_server):
    with load(f"openai:{llama_server}?n_ctx=1234#qwen-bundled") as model:
        assert model.context_length == 1234 and model.model == "qwen-bundled"
    with load(f"openai:{llama_server}#qwen-bundled?n_ctx=2048") as model:
        assert model.context_length == 2048


def test_openai_many_requests_in_flight_answer_in_order(llama_server):
    words = ["banana", "cherry", "lemon", "mango", "orange", "pepper"]
    asks = [[{"role": "user", "content": f"Repeat this word exactly once and nothing else: {w}"}] for w in words]
    with load(f"openai:{llama_server}#qwen-bundled") as model:
        spy = _Spy(model)
        answers = model.complete_many(asks, GenerationOptions(max_tokens=6, temperature=0))
        assert [w in a.lower() for w, a in zip(words, answers)] == [True] * len(words), answers
        assert len(spy.threads) > 1  # sent from several threads at once, for the server to batch


BF16_BETWEEN_ANSWERS = """
import torch
from topictalk.agent.models import load
from topictalk.indexing.generation import GenerationOptions
model = load("bundled-small")
ask = [{"role": "user", "content": "Name three colours, separated by commas. " * 8}]
first = model.generate(ask, GenerationOptions(max_tokens=6))
a, b = torch.randn(256, 256), torch.randn(256, 256)
with torch.autocast("cpu", dtype=torch.bfloat16):  # oneDNN's AMX kernels where the CPU has AMX
    torch.nn.functional.linear(a, b)
second = model.generate(ask[:1] + [{"role": "assistant", "content": first}, {"role": "user", "content": "More?"}],
                        GenerationOptions(max_tokens=6))
model.close()
print("answered" if first.strip() and second.strip() else "empty")
"""


def test_an_answer_after_a_bf16_matmul_in_the_same_thread_does_not_crash(bundled_gguf):
    """On an AMX host llama.cpp's AMX kernels ran into tiles that torch's oneDNN had released in the
    calling thread: the process died of SIGILL (-4) at the second answer. The model computes on a thread of
    its own now. In a subprocess, so that a crash fails this test instead of ending the run; on a CPU
    without AMX there is nothing to release and the test passes whatever the threading."""
    done = subprocess.run([sys.executable, "-c", BF16_BETWEEN_ANSWERS], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.strip().endswith("answered"), done.stdout


def test_llamacpp_leaves_no_compute_thread_behind_whatever_stops_its_load(tmp_path, monkeypatch):
    """A load stopped by any error (not only llama.cpp's ValueError) shuts its compute thread down: a
    process that goes on (the app falling back, a test) must not keep one thread per failed load."""
    import threading

    import llama_cpp

    from topictalk.agent.llamacpp import LlamaCppModel

    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def alive() -> int:
        return sum(t.name.startswith("llama.cpp") and t.is_alive() for t in threading.enumerate())

    before = alive()
    monkeypatch.setattr(llama_cpp, "Llama", interrupted)
    with pytest.raises(KeyboardInterrupt):
        LlamaCppModel(model)
    monkeypatch.setattr(llama_cpp, "Llama", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad magic")))
    with pytest.raises(TopictalkError, match="could not load .*bad magic"):
        LlamaCppModel(model)
    assert alive() == before
