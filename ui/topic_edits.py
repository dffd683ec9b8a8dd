"""Changing the topics from the app's Topics tab: rename, merge, split (issue 30), for editors only.

An app is read-only unless its owner names who may change the topics: ``--editors NAME ...`` (logins
of ``--auth``/``--auth-file``), or ``--editable`` for an app on this machine without logins. The check
is made on the server for every change, whatever the page shows. A change is a new generation
(indexing/refine.py): the chat, the table and the map read it once it is written; other sessions
see it at their next question (the chat) or page load (the table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from topictalk.indexing.errors import TopictalkError

ACTIONS = ("rename", "merge", "split")
WORKING = "Changing the topics (a merge or split takes a few seconds)..."
READ_ONLY = ("This login may read the topics, not change them: the app's owner names who may with "
             "`topictalk chat --editors USER`.")
ANYONE = "*"  # --editable: an app without logins, on this machine, whose one user owns the index


@dataclass(frozen=True)
class Editing:
    editors: frozenset[str]

    def allows(self, username: str | None) -> bool:
        return ANYONE in self.editors or (username is not None and username in self.editors)


def editing_for(editors: list[str] | None, editable: bool, logins: list[tuple[str, str]] | None) -> Editing | None:
    """The app's editors from its options, checked against its logins; None: read-only."""
    if editable and logins:
        raise TopictalkError("--editable is for an app without logins; with --auth, name who may change the "
                             "topics: --editors NAME [NAME ...]")
    if editable:
        return Editing(frozenset({ANYONE}))
    if not editors:
        return None
    if not logins:
        raise TopictalkError("--editors names logins: add --auth USER:PASS or --auth-file FILE (or use --editable "
                             "for an app on this machine without logins)")
    unknown = sorted(set(editors) - {user for user, _ in logins})
    if unknown:
        raise TopictalkError(f"--editors {' '.join(unknown)}: no such login; the logins are "
                             f"{', '.join(sorted(user for user, _ in logins))}")
    return Editing(frozenset(editors))


def topic_ids(text: str) -> list[int]:
    """'3', '3 7', '3, 7': the ids a person typed; a one-line error for anything else."""
    found = re.findall(r"-?\d+", text or "")
    if not found or re.sub(r"[-\d\s,;]+", "", text or ""):
        raise TopictalkError(f"type topic ids from the table's first column, e.g. 3 or 3 7 (got {text!r:.40})")
    return [int(n) for n in found]


def change(action: str, ids_text: str, label: str, location, *, llm=None, embedder=None) -> str:
    """Do one change; what it did, in one line (errors raise TopictalkError, one line too)."""
    from topictalk.indexing import refine

    ids = topic_ids(ids_text)
    if action == "rename":
        if len(ids) != 1:
            raise TopictalkError("rename one topic at a time: its id, then the new label")
        done = refine.rename(location, ids[0], label)
        return f"Topic {done.topic} is now **{done.label}** (it was {done.old_label})."
    if action == "merge":
        done = refine.merge(location, ids, llm=llm, embedder=embedder)
        return (f"Topics {', '.join(map(str, done.merged))} are now topic {done.topic.id}, **{done.topic.label}** "
                f"({done.topic.size:,} documents).")
    if action == "split":
        if len(ids) != 1:
            raise TopictalkError("split one topic at a time: type its id")
        done = refine.split(location, ids[0], llm=llm, embedder=embedder)
        parts = "; ".join(f"{p.id}: **{p.label}** ({p.size:,})" for p in done.parts)
        return f"Topic {done.parent} is now {len(done.parts)} topics: {parts}."
    raise TopictalkError(f"unknown change {action!r}: one of {', '.join(ACTIONS)}")


@dataclass(frozen=True)
class Form:
    ids: object  # gr.Textbox
    label: object  # gr.Textbox
    buttons: dict  # action -> gr.Button
    outcome: object  # gr.Markdown


def form(gr) -> Form:  # noqa: ANN001 - gradio, imported by the app
    """The Topics tab's editing controls (in the Blocks being built)."""
    with gr.Accordion("Change the topics", open=False, elem_id="tt-edit"):
        gr.Markdown("Rename a topic, merge topics into one, or split a topic into its sub-topics. Each change "
                    "is kept, and made again after a re-index with the same settings.")
        with gr.Row():
            ids = gr.Textbox(label="Topic ids", placeholder="3 (rename, split) or 3 7 (merge)", max_length=200,
                             elem_id="tt-edit-ids")
            label = gr.Textbox(label="New label (rename)", max_length=80, elem_id="tt-edit-label")
        with gr.Row():
            buttons = {action: gr.Button(action.capitalize(), size="sm", elem_id=f"tt-edit-{action}")
                       for action in ACTIONS}
        outcome = gr.Markdown("", elem_id="tt-edit-outcome")
    return Form(ids, label, buttons, outcome)
