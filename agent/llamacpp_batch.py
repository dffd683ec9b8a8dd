"""Several llama.cpp answers decoded together: one sequence per prompt in a context of their own.

On a CPU a decoding step of one token is bound by reading the weights: a step of 8 tokens cost 1.7x a
step of 1 (the bundled 1.5B, 2-core AVX-512 host: 176 against 103 ms). Decoding 6 label answers together
took 16 s where one after the other took ~35 s; their prompts are read about as fast as alone (~80-100
tokens/s), the start they share (the system prompt) once. The labeling stage of 1,000 abstracts (14
topics, 4 themes, labels with descriptions): 143-156 s against 190-210 s, x1.34 (bench/label_batch.py).

Each sequence samples with a chain of its own, built as llama-cpp-python's ``create_completion``
builds its one (penalties over the answer, top-k 40, top-p 0.95, min-p 0.05, temperature, a seeded
draw), so an answer is drawn as it would be alone; the batch changes the arithmetic's rounding, not
the method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from topictalk.agent.llm import cut_at_stop
from topictalk.indexing.generation import GenerationOptions

MAX_SEQUENCES = 8  # answers decoded together at most; a run killed midway keeps the batches it finished
KV_BUDGET = 1 << 30  # bytes of KV cache a batch may take (f16): 8 label prompts of the 1.5B take ~0.12 GB,
# of Llama-2-13B ~3.5 GB, which a CPU user's memory may not have beside the weights
READ_BATCH = 128  # prompt tokens a decode call reads; 512 (llama-cpp-python's n_batch) read 10-20% slower on 2 cores
STOPPABLE_READ = 32  # ... and a stoppable batch's: work behind a person's question stops within ~1 s (AVX2)
PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size: the answer's tokens the repeat penalty sees


@dataclass
class _Sequence:
    prompt: list[int]
    room: int  # tokens it may still write
    sampler: object
    out: bytearray = field(default_factory=bytearray)
    position: int = 0  # where ``last`` goes in its sequence
    last: int = 0  # the token to feed in the next step: the prompt's last, then each one sampled
    done: bool = False


def _sampler(options: GenerationOptions):
    from llama_cpp._internals import LlamaSampler

    chain = LlamaSampler()
    chain.add_penalties(PENALTY_LAST_N, options.repetition_penalty, 0.0, 0.0)
    if options.temperature == 0:
        chain.add_greedy()
    else:
        chain.add_top_k(40)
        chain.add_typical(1.0, 1)
        chain.add_top_p(0.95, 1)
        chain.add_min_p(0.05, 1)
        chain.add_temp(options.temperature)
        chain.add_dist(options.seed)
    return chain


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` start with alike."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, but never a prompt's last (it must be read to sample from)."""
    return min(min(common_prefix(prompts[0], p) for p in prompts), min(len(p) for p in prompts) - 1)


def kv_bytes_per_token(llm) -> int:
    """What one token's keys and values take in ``llm``'s (a ``llama_cpp.Llama``) cache, in f16."""
    import llama_cpp

    model = llm._model.model
    kv_width = llama_cpp.llama_model_n_embd(model) * llama_cpp.llama_model_n_head_kv(model) \
        // max(1, llama_cpp.llama_model_n_head(model))  # grouped-query attention keeps fewer heads
    return 2 * 2 * llama_cpp.llama_model_n_layer(model) * kv_width


def groups(lengths: Sequence[int], per_token: int, budget: int = KV_BUDGET) -> list[range]:
    """``lengths`` (each prompt's tokens plus its answer's room) in consecutive groups decoded together:
    at most :data:`MAX_SEQUENCES`, whose cache (``per_token`` bytes a token) fits ``budget``, one at least."""
    out, start, used = [], 0, 0
    for i, n in enumerate(lengths):
        if i > start and (i - start >= MAX_SEQUENCES or (used + n) * per_token > budget):
            out.append(range(start, i))
            start, used = i, 0
        used += n
    if start < len(lengths):
        out.append(range(start, len(lengths)))
    return out


class _Stopped(Exception):
    """``stopping`` was set between two decode calls."""


def complete_together(llm, prompts: Sequence[list[int]], rooms: Sequence[int], options: GenerationOptions,
                      stopping=None) -> list[str | None]:
    """The answers to ``prompts`` (token ids) from ``llm`` (a loaded ``llama_cpp.Llama``), each at most
    ``min(options.max_tokens, room)`` tokens, cut before the first of ``options.stop``. Runs llama.cpp:
    call it on the model's compute thread. ``stopping`` (a ``threading.Event``), looked at between two
    decode calls, ends it early: an answer not finished by then is None (ask it again)."""
    import llama_cpp
    from llama_cpp._internals import LlamaBatch, LlamaContext

    seqs = [_Sequence(list(p), min(options.max_tokens, room), _sampler(options)) for p, room in zip(prompts, rooms)]
    params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_seq_max = len(seqs)
    # one KV buffer for all: the prompts' shared start is stored once (a buffer per sequence read no faster)
    params.kv_unified = True
    params.n_ctx = sum(len(s.prompt) + s.room for s in seqs) + 1
    ctx = LlamaContext(model=llm._model, params=params, verbose=False)
    batch = LlamaBatch(n_tokens=max(READ_BATCH, len(seqs)), embd=0, n_seq_max=1, verbose=False)
    vocab = llm._model.vocab
    try:
        shared = _shared_prefix([s.prompt for s in seqs])
        work = [(0, t, i) for i, t in enumerate(seqs[0].prompt[:shared])]  # read once, as sequence 0
        _read(ctx, batch, work, stopping=stopping)
        for k in range(1, len(seqs)):
            llama_cpp.llama_memory_seq_cp(ctx.memory, 0, k, 0, shared)
        # every prompt's rest but its last token; that one is fed as the first step's, whose logits the
        # first answer token is drawn from (llama.cpp keeps the logits of the last decode call only)
        _read(ctx, batch, [(k, t, shared + j) for k, s in enumerate(seqs) for j, t in enumerate(s.prompt[shared:-1])],
              stopping=stopping)
        for s in seqs:
            s.last, s.position = s.prompt[-1], len(s.prompt) - 1
        while live := [k for k, s in enumerate(seqs) if not s.done]:
            rows = _read(ctx, batch, [(k, seqs[k].last, seqs[k].position) for k in live],
                         {(k, seqs[k].position) for k in live}, stopping)
            for k in live:
                seqs[k].position += 1
                _draw(seqs[k], ctx, rows[k], vocab, options)
    except _Stopped:
        pass  # the answers not done are None below
    finally:
        batch.close()
        ctx.close()
        for s in seqs:
            s.sampler.close()
    return ["".join(cut_at_stop([bytes(s.out).decode("utf-8", errors="ignore")], options.stop)) if s.done else None
            for s in seqs]


def _read(ctx, batch, work: list[tuple[int, int, int]], wanted: set[tuple[int, int]] = frozenset(),
          stopping=None) -> dict[int, int]:
    """Decode ``work`` ((sequence, token, position) each) in calls of at most the batch's size; the batch row
    of each ``wanted`` (sequence, position) in the call that read it, by sequence. :class:`_Stopped` when
    ``stopping`` is set before a call; with one, a call reads at most STOPPABLE_READ tokens (it stops sooner)."""
    rows: dict[int, int] = {}
    cap = batch._n_tokens if stopping is None else min(batch._n_tokens, STOPPABLE_READ)
    for start in range(0, len(work), cap):
        if stopping is not None and stopping.is_set():
            raise _Stopped
        part = work[start:start + cap]
        b = batch.batch
        b.n_tokens = len(part)
        for j, (seq, token, pos) in enumerate(part):
            b.token[j], b.pos[j], b.n_seq_id[j] = token, pos, 1
            b.seq_id[j][0] = seq
            b.logits[j] = (seq, pos) in wanted
            if b.logits[j]:
                rows[seq] = j
        ctx.decode(batch)
    return rows


def _draw(s: _Sequence, ctx, row: int, vocab, options: GenerationOptions) -> None:
    """Sample the sequence's next token from batch row ``row``; mark it done at an end token, its room's end
    or a stop string."""
    import llama_cpp

    token = llama_cpp.llama_sampler_sample(s.sampler.sampler, ctx.ctx, row)
    if llama_cpp.llama_vocab_is_eog(vocab, token):
        s.done = True
        return
    s.out += _piece(vocab, token)
    s.last, s.room = token, s.room - 1
    if s.room <= 0 or (options.stop and any(stop in bytes(s.out).decode("utf-8", errors="ignore")
                                            for stop in options.stop)):
        s.done = True


def _piece(vocab, token: int) -> bytes:
    import ctypes

    import llama_cpp

    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        if n >= 0:
            return buf.raw[:n]
        size = -n

