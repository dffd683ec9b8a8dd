"""`topictalk index` / `topictalk topics` end to end, as a user runs them: real arXiv
abstracts, the bundled embedding model and LLM, a persistent Chroma on disk."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ARXIV
from tests.conftest import ARXIV_SAMPLE as N
from tests.helpers import run_cli as topictalk
from tests.helpers import run_cli_here
from topictalk.indexing import clustering
from topictalk.indexing.labels import problem

pytestmark = pytest.mark.slow  # every test builds an index or reads the shared one, with real models


def topics_json(index: Path) -> list[dict]:
    return json.loads(run_cli_here("topics", "--index-dir", str(index), "--json").stdout)["topics"]


def manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text())


@pytest.fixture
def built(arxiv_index) -> Path:
    return arxiv_index


def test_index_labels_every_topic_with_real_words(built):
    topics = topics_json(built)
    real = [t for t in topics if t["topic"] != -1]
    assert len(real) >= 2
    assert sum(t["count"] for t in topics) == N
    for t in real:
        assert t["label"].strip() and t["keywords"] and len(t["representative_ids"]) == 5
        assert not {"the", "and", "of", "to", "we", "in"} & set(t["keywords"]), t["keywords"]
        # a description for every topic, each sentence cited by one of its representative documents
        assert t["description"] and set(t["description_ids"]) <= set(t["representative_ids"]), t
        assert len(t["keywords"]) <= 10 and t["keybert"] and t["mmr"]
    # most labels come from the LLM, not from the keyword fallback, and every one passes the label rule
    assert sum(t["label_source"].startswith("llm") for t in real) >= len(real) / 2, [t["label_source"] for t in real]
    taken: set[str] = set()
    for t in real:
        assert problem(t["label"], t["keywords"], taken) is None, t
        taken.add(t["label"].lower())
    assert len({t["label"].lower() for t in real}) == len(real)
    m = manifest(built)
    everything = json.loads(run_cli_here("topics", "--index-dir", str(built), "--json").stdout)
    assert all(th["description"] for th in everything["themes"])
    assert [line["theme"] for line in everything["brief"]["themes"]] == [th["id"] for th in everything["themes"]]
    _descriptions_are_grounded(built, real, everything, m)
    assert m["corpus"]["documents"] == N and m["corpus"]["sampled_from"] > N
    assert m["models"]["llm"] == "bundled" and m["clustering"]["method"] == "leiden"
    assert m["clustering"]["modularity"] > 0
    # theme splits are tried unless the topics are too few to group (then one theme per topic): 300 abstracts
    # of the shared corpus give more topics than THEMES' low end, 300 of the bundled sample may not
    few = m["counts"]["topics"] <= clustering.THEMES[0]
    assert m["clustering"]["themes"]["tried"] or (few and m["counts"]["themes"] == m["counts"]["topics"]), m
    assert m["counts"]["topics"] == len(real) and m["counts"]["outliers"] == 0
    assert m["host"]["cores"] >= 1 and m["host"]["kind"] and m["host"]["llm"]["threads"] >= 1


def _descriptions_are_grounded(built: Path, real: list[dict], everything: dict, m: dict) -> None:
    """Issue 26: every topic and theme described, most by the LLM (the 1.5B), each written sentence grounded in
    the documents it was written from and paired with the id it cites; the plain table shows the themes'."""
    from topictalk.indexing import corpus, descriptions, embedding, encoder, grounding

    themes = everything["themes"]
    assert m["descriptions"]["source"] == "llm" and m["descriptions"]["brief"]["source"]
    units = real + themes
    written = [u for u in units if u["description_source"] == "llm"]
    assert len(written) >= len(units) / 2, [u["description_source"] for u in units]
    assert all(u["description_source"] == "llm" or u["description_source"].startswith("extractive") for u in units)
    by_id = {t["topic"]: t for t in real}

    def sources(unit: dict) -> list[str]:  # what the index checked it against (indexing/descriptions.py)
        if "topic" in unit:
            return unit["representative_ids"]
        if len(unit["topic_ids"]) == 1:  # a theme of one topic is that topic
            return by_id[unit["topic_ids"][0]]["representative_ids"]
        return list(dict.fromkeys(i for t in unit["topic_ids"] for i in by_id[t]["description_ids"]))

    texts = {d.id: (d.title, d.text) for d in corpus.from_files([str(ARXIV)], limit=N, seed=42).documents}
    embed = encoder.Encoder(embedding.load(embedding.DEFAULT))
    for unit in units:
        said = grounding.sentences(unit["description"])
        assert len(said) == len(unit["description_ids"]) >= 1, unit  # one cited document per sentence
    for unit in written:  # the check the index ran, run again here: nothing it kept is dropped now
        checked = descriptions.check(unit["description"], [(i, *texts[i]) for i in sources(unit)], embed)
        assert not checked.dropped and checked.ids == unit["description_ids"], (unit["label"], checked)
    table = run_cli_here("topics", "--index-dir", str(built)).stdout
    assert all(grounding.sentences(th["description"])[0][:40] in table for th in themes)


def test_topics_table_is_printed_like_get_topic_info(built):
    out = run_cli_here("topics", "--index-dir", str(built)).stdout.splitlines()
    assert out[0].split() == ["Topic", "Count", "Label", "Keywords"]
    themes = json.loads(run_cli_here("topics", "--index-dir", str(built), "--json").stdout)["themes"]
    # each theme's line (T<id>, its size, == label ==) comes before its topics' lines
    first = next(line for line in out[1:] if line.strip())
    assert first.split()[0] == f"T{themes[0]['id']}" and f"== {themes[0]['label']} ==" in first


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    (tmp / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp / "nocol.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    (tmp / "latin1.csv").write_bytes("text\ncaf\xe9 au lait\n".encode("latin-1"))
    with open(tmp / "few.jsonl", "w") as f:
        for i in range(5):
            f.write(json.dumps({"text": f"document number {i}"}) + "\n")
    return {
        "not found": ["--input", str(tmp / "missing.csv")],
        "docx": ["--input", str(tmp / "notes.docx")],
        "text column": ["--input", str(tmp / "nocol.csv")],
        "UTF-8": ["--input", str(tmp / "latin1.csv")],
        "only 5 documents": ["--input", str(tmp / "few.jsonl")],
    }


def test_bad_input_is_one_line_and_leaves_the_index_untouched(built, tmp_path):
    before = topics_json(built)
    generation = manifest(built)["generation"]
    for words, args in _bad_inputs(tmp_path).items():
        out = run_cli_here("index", *args, "--index-dir", str(built), "--quiet", check=False)
        assert out.returncode == 2, (words, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("topictalk: error:"), (words, out.stderr)
        assert words.lower() in lines[0].lower(), (words, lines[0])
        assert "Traceback" not in out.stderr
    assert topics_json(built) == before and manifest(built)["generation"] == generation


def test_kill_during_labeling_keeps_old_index_and_resumes_asking_only_what_it_lacks(built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built, index)  # a labelled index; its embeddings, UMAP and LLM answers cached
    old = topics_json(index)
    labels = index / "cache" / "labels.jsonl"
    kept = labels.read_text().splitlines(keepends=True)
    assert len(kept) >= 3, kept  # labels of the topics, then the brief: the last ones are asked in two calls
    labels.write_text("".join(kept[:-3]))
    # the same settings and model: the run asks the three answers its cache lost, and is killed after the first
    again = ["index", "--input", str(ARXIV), "--limit", str(N), "--index-dir", str(index), "--quiet", "--llm", "bundled"]
    proc = subprocess.Popen([sys.executable, "-m", "topictalk.ui.cli", *again],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if labels.read_text().count("\n") > len(kept) - 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed mid-labeling"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert topics_json(index) == old  # the previous generation still answers, unchanged
    done = labels.read_text().count("\n")
    run_cli_here(*again)
    m = manifest(index)
    # a re-index with the same settings asks only what its cache lacks: the cut lines, less what the killed
    # run kept (the cut is the end of the file, so every answer kept is one this run asks for)
    assert m["cache"]["labels"]["cached"] >= done > len(kept) - 3 and m["cache"]["labels"]["asked"] >= 1
    assert m["cache"]["chunks_embedded"] == 0
    assert m["generation"] == manifest(built)["generation"] + 1  # the killed run committed nothing
    assert all(t["label"] for t in topics_json(index))


def test_reindex_never_breaks_an_open_chat_index(built, tmp_path):
    """Issue 9 item 2: a chat's TopicIndex keeps answering while `topictalk index` re-runs on its folder."""
    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import corpus as corpus_mod
    from topictalk.indexing import pipeline, store
    from topictalk.indexing.topics import TopicParams

    index = tmp_path / "index"
    shutil.copytree(built, index)
    chat = TopicIndex.open(store.Location(path=index))
    question = chat.embed("graph neural networks for molecules")
    start = manifest(index)["generation"]
    # the reproduction: a re-index in another process, then a search from the open index
    topictalk("index", "--input", str(ARXIV), "--limit", str(N), "--index-dir", str(index), "--quiet", "--no-llm",
              "--min-samples", "5")
    cached = manifest(index)["cache"]  # other settings re-use the embeddings and the 2-D map of the cache
    assert cached["chunks_embedded"] == 0 and cached["chunks_cached"] >= 1 and cached["umap_2d"] is True
    assert len(chat.search(question, 3)) == 3 and chat.documents([chat.search(question, 1)[0].document.id])
    # several in a row, in this process (the real pipeline without an LLM), each followed by questions
    corpus = corpus_mod.from_files([str(ARXIV)], limit=N, seed=42)
    for size in (10, 14):
        pipeline.build(corpus, index, pipeline.IndexSettings(topics=TopicParams(min_cluster_size=size)), None)
        hits = chat.search(question, 3)
        ranked = chat.rank_topics(question, 2)
        assert len(hits) == 3 and ranked
        topic = ranked[0][0]
        assert all(h.document.topic == topic.id for h in chat.search(question, 3, topic=topic.id))
    chat.reader.follow_s = 0  # it moves to the live generation between questions
    assert chat.manifest["generation"] == manifest(index)["generation"] == start + 3
    assert [t.label for t in chat.topics] == [t["label"] for t in sorted(
        topics_json(index), key=lambda t: (t["topic"] == -1, -t["count"], t["topic"]))]


def test_the_demo_commits_keyword_labels_first_and_the_models_labels_as_the_next_generation(built, tmp_path):
    """On a CPU `topictalk demo` opens the chat once the topics exist: the model's labels follow as the next
    generation, which an open reader moves to. Same settings as the built index: every answer is cached."""
    from topictalk.indexing import store
    from topictalk.ui import cli

    index = tmp_path / "index"
    shutil.copytree(built, index)
    before = manifest(index)["generation"]
    args = cli.build_parser().parse_args(["demo", "--input", str(ARXIV), "--limit", str(N), "--index-dir",
                                          str(index), "--quiet", "--llm", "bundled"])
    said: list[str] = []
    model = cli.SharedModel("bundled")
    try:
        labelling = cli._index_then_label_in_background(args, model, said.append)
        location = store.Location(path=index)
        first = store.open_reader(location)
        first.follow_s = 0
        if labelling.is_alive():  # the thread may be done already: then the reader moves on below
            assert first.manifest["generation"] == before + 1 and first.manifest["labels_pending"]
            assert {t.label_source for t in first.topics()} <= {"keywords", "outliers"}
        labelling.join(300)
        assert not labelling.is_alive()
    finally:
        model.close()
    assert first.refresh()  # the same reader moves to the labelled generation, as an open chat does
    labelled = first.manifest
    assert labelled["generation"] == before + 2 and "labels_pending" not in labelled
    assert labelled["cache"]["labels"]["asked"] == 0  # all from the cache: the same labels as `index` gave
    assert [(t["topic"], t["label"]) for t in topics_json(index)] == [(t["topic"], t["label"])
                                                                       for t in topics_json(built)]
    assert first.parts[0] == before + 1  # the labelled generation shares the documents the first one wrote
    assert any("labels and descriptions are written" in line for line in said), said


SAMPLE = 600  # 11 topics: enough for themes over topics


@pytest.mark.slow
def test_a_seeded_sample_has_themes_over_topics_and_every_document_in_a_topic(tmp_path):
    """Fine topics, grouped in a readable number of themes; no document left in topic -1."""
    index = tmp_path / "index"
    out = run_cli_here("index", "--input", str(ARXIV), "--limit", str(SAMPLE), "--index-dir", str(index), "--no-llm")
    shown = json.loads(run_cli_here("topics", "--index-dir", str(index), "--json").stdout)
    topics, themes = shown["topics"], shown["themes"]
    assert all(t["topic"] != -1 for t in topics) and sum(t["count"] for t in topics) == SAMPLE
    assert len(topics) >= 8 and max(t["count"] for t in topics) <= 0.25 * SAMPLE, topics
    assert 2 <= len(themes) <= 12 < len(topics) + 12
    # themes partition the topics, and each topic row names its theme
    assert sorted(i for th in themes for i in th["topic_ids"]) == sorted(t["topic"] for t in topics)
    theme_of = {i: th["id"] for th in themes for i in th["topic_ids"]}
    assert all(t["theme"] == theme_of[t["topic"]] for t in topics)
    assert all(th["size"] == sum(t["count"] for t in topics if t["theme"] == th["id"]) for th in themes)
    assert all(th["label"] and th["keywords"] for th in themes)
    assert all(t["label_source"] == "keywords" for t in topics)
    # without an LLM every topic gets an extractive description: its central documents' own sentences
    assert all(t["description"] and t["description_source"] == "extractive" for t in topics)
    assert "clustering: Leiden" in out.stderr + out.stdout  # the choice, in one line
    assert "themes (k-means cells of the embeddings" in out.stderr + out.stdout
    m = manifest(index)
    assert m["counts"]["outliers"] == 0 and m["counts"]["themes"] == len(themes)
    # 600 documents hold over ten topics: the themes were found first, and the manifest says how
    assert m["clustering"]["themes"]["method"] == "kmeans" and m["clustering"]["themes"]["tried"]
