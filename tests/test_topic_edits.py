"""Who may change the topics from the app (ui/topic_edits.py): the checks, without a browser."""

from __future__ import annotations

import pytest

from topictalk.indexing.errors import TopictalkError
from topictalk.ui import topic_edits

LOGINS = [("ann", "correct horse"), ("bob", "battery staple")]


def test_an_app_is_read_only_unless_its_owner_names_editors():
    assert topic_edits.editing_for(None, False, LOGINS) is None
    editing = topic_edits.editing_for(["ann"], False, LOGINS)
    assert editing.allows("ann") and not editing.allows("bob") and not editing.allows(None)
    local = topic_edits.editing_for(None, True, None)
    assert local.allows(None)


@pytest.mark.parametrize("editors, editable, logins, message", [
    (["carol"], False, LOGINS, "--editors carol: no such login"),
    (["ann"], False, None, "--editors names logins"),
    (None, True, LOGINS, "--editable is for an app without logins"),
])
def test_editors_that_cannot_be_are_one_line(editors, editable, logins, message):
    with pytest.raises(TopictalkError, match=message) as err:
        topic_edits.editing_for(editors, editable, logins)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("typed, ids", [("3", [3]), ("3 7", [3, 7]), ("3, 7", [3, 7]), (" 12 ", [12])])
def test_topic_ids_as_people_type_them(typed, ids):
    assert topic_edits.topic_ids(typed) == ids


@pytest.mark.parametrize("typed", ["", "three", "3; drop table", "3 and 7"])
def test_anything_else_is_refused_with_an_example(typed):
    with pytest.raises(TopictalkError, match="e.g. 3 or 3 7"):
        topic_edits.topic_ids(typed)
