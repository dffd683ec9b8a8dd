"""Where a request to gradio names a session or an event, read the way gradio reads it.

gradio reads a session id from the JSON body (``session_hash``; Python's json
keeps the last of repeated keys), the query (Starlette keeps the last of
repeated ``session_hash`` values) or the path (``/heartbeat/<id>``, the
stream files ``/stream/<id>/...``). A request that names more than one is
refused outright: whichever one the guard checked, gradio might use another.
"""

from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import parse_qsl

CALL_RESULT = re.compile(r"/call/(?:v2/)?[^/]+/([^/]+)$")  # GET /gradio_api/call/<fn>/<event id>
STREAM_EVENT = re.compile(r"/stream/([^/]+)(?:/close)?$")  # POST /gradio_api/stream/<event id>[/close]
PATH_SESSION = (re.compile(r"/heartbeat/([^/]+)$"),  # GET /gradio_api/heartbeat/<session>
                 re.compile(r"/stream/([^/]+)/[^/]+/[^/]+/[^/]+$"))  # GET .../stream/<session>/<run>/<id>/<file>


def named(scope, body: bytes) -> list[str]:
    """Every session id a request names where gradio may read one: the JSON body's ``session_hash`` (the
    last of repeated keys, for Python's json), every ``session_hash`` of the query (Starlette takes the
    last) and the path of a heartbeat or a stream file. ValueError if it names two."""
    named: list[str] = []
    pairs = None
    if body:
        with contextlib.suppress(ValueError):  # not JSON: gradio refuses it itself
            pairs = json.loads(body, object_pairs_hook=lambda pairs: pairs)
    values = [v for k, v in pairs if k == "session_hash"] if isinstance(pairs, list) and pairs and \
        all(isinstance(p, tuple) for p in pairs) else []
    if any(v is not None and not isinstance(v, str) for v in values):
        raise ValueError("session_hash must be a string")
    named += [v for v in values if v is not None]
    query = scope.get("query_string", b"").decode("latin-1")
    named += [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "session_hash"]
    if scope.get("method") == "GET":
        path = scope.get("path", "").rstrip("/")
        named += [m.group(1) for pattern in PATH_SESSION if (m := pattern.search(path))]
    if len(named) > 1:
        raise ValueError("a request may name one session (session_hash) once")
    return named
