"""A BERTopic model the user saved, read as topics to keep: each fitted document's topic, the topics'
words and any labels set on it (``topictalk index --bertopic-model PATH --input DOCS``).

A folder that ``BERTopic.save(path, serialization="safetensors" | "pytorch")`` wrote is read from its
``topics.json`` alone: no BERTopic import, no embedding model, nothing from the hub (the folder names
its embedding model but need not hold it). A pickle file (``serialization="pickle"``) is loaded by
BERTopic itself, which unpickles it: open only models you trust, as with any pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from topictalk.indexing.errors import TopictalkError


@dataclass(frozen=True)
class SavedTopics:
    """What a fitted BERTopic model knows of its documents and topics."""

    source: str  # the path, for messages and the manifest
    assignments: np.ndarray  # topic per fitted document, in the order they were fitted (-1: outlier)
    words: dict[int, list[str]] = field(default_factory=dict)  # topic -> its representation, best first
    labels: dict[int, str] = field(default_factory=dict)  # topic -> a label set with set_topic_labels

    @property
    def topic_count(self) -> int:
        return len(set(self.assignments.tolist()) - {-1})

    def for_rows(self, rows: list[int], read: int) -> np.ndarray:
        """The topics of the documents a corpus kept: ``rows`` are their positions among the ``read``
        input rows (empty and duplicate texts are dropped), which must be the documents the model was
        fitted on, in order: checked by count, the one thing a saved model still knows of them."""
        if read != len(self.assignments):
            raise TopictalkError(f"the BERTopic model at {self.source} was fitted on {len(self.assignments):,} "
                                 f"documents and the input holds {read:,}: pass the documents it was fitted on, "
                                 "in the same order")
        return self.assignments[np.asarray(rows, dtype=np.int64)]


def read(path: str | Path) -> SavedTopics:
    """The topics of the model saved at ``path``; a one-line error for anything else."""
    path = Path(path).expanduser()
    if path.is_dir():
        return _from_folder(path)
    if path.is_file():
        return _from_pickle(path)
    raise TopictalkError(f"no BERTopic model at {path}: pass the folder BERTopic.save() wrote (or its pickle file)")


def _from_folder(folder: Path) -> SavedTopics:
    topics_file = folder / "topics.json"
    if not topics_file.is_file():
        raise TopictalkError(f"{folder} holds no topics.json: it is not a folder BERTopic.save() wrote "
                             "(save with serialization='safetensors')")
    try:
        data = json.loads(topics_file.read_text(encoding="utf-8"))
        assignments = np.asarray(data["topics"], dtype=np.int64)
        representations = {int(k): v for k, v in (data.get("topic_representations") or {}).items()}
        names = {int(k): str(v) for k, v in (data.get("topic_labels") or {}).items()}
        custom = data.get("custom_labels")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TopictalkError(f"cannot read the BERTopic model's {topics_file}: {err}; save the model again") from None
    return _saved(str(folder), assignments, representations, names, custom)


def _from_pickle(file: Path) -> SavedTopics:
    try:
        magic = file.open("rb").read(1)
    except OSError as err:
        raise TopictalkError(f"cannot read {file}: {err.strerror or err}") from None
    if magic != b"\x80":  # pickle protocol 2 and above, as joblib writes it: checked before importing BERTopic
        raise TopictalkError(f"cannot load the BERTopic model {file}: it is not a pickle; pass the folder "
                             "BERTopic.save(path, serialization='safetensors') wrote, or its pickle file")
    try:
        from bertopic import BERTopic

        model = BERTopic.load(str(file), embedding_model=None)
    except Exception as err:  # an unpickling error can be any exception; its first line says which
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TopictalkError(f"cannot load the BERTopic model {file}: {first}; pass the folder "
                             "BERTopic.save(path, serialization='safetensors') wrote") from None
    if model.topics_ is None:
        raise TopictalkError(f"the BERTopic model {file} was never fitted: fit it on the documents, then save it")
    return _saved(str(file), np.asarray(model.topics_, dtype=np.int64), dict(model.topic_representations_ or {}),
                  dict(model.topic_labels_ or {}), model.custom_labels_)


def _saved(source: str, assignments: np.ndarray, representations: dict, names: dict[int, str],
           custom) -> SavedTopics:
    words = {topic: [str(w) for w, *_ in pairs if str(w)] for topic, pairs in representations.items()}
    # BERTopic keeps custom labels as a list aligned with its sorted topic ids (set_topic_labels); a label
    # it left as the generated "3_word_word_word" name is no label a person gave
    labels: dict[int, str] = {}
    if isinstance(custom, dict):
        custom = [custom.get(t) for t in sorted(set(assignments.tolist()))]
    for topic, label in zip(sorted(set(assignments.tolist())), custom or []):
        if label and str(label).strip() and str(label) != names.get(topic):
            labels[topic] = str(label).strip()
    return SavedTopics(source, assignments, words, labels)
