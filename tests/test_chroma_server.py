"""The same schema on a Chroma server (a team's shared store): a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARXIV
from tests.conftest import NEWS as BBC
from tests.helpers import free_port, run_cli, run_cli_here, wait_for_url

pytestmark = pytest.mark.slow  # starts a server and builds indexes


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    port = free_port()
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path_factory.mktemp("chroma-server")),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_url(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, alive=lambda: proc.poll() is None)
    except BaseException:
        proc.kill()
        raise
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_index_and_read_through_a_chroma_server(chroma_server, tmp_path):
    """Index, list and ask through the server; a second named index beside the first."""
    server = ["--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_server)]
    run_cli("index", "--input", str(BBC), "--limit", "200", "--no-llm", "--index-dir", str(tmp_path), "--quiet",
            *server)
    topics = json.loads(run_cli_here("topics", "--json", *server).stdout)["topics"]
    assert sum(t["count"] for t in topics) == 200 and len(topics) >= 3
    assert not (tmp_path / "chroma.sqlite3").exists()  # the store is the server; the folder holds caches only
    reply = json.loads(run_cli("ask", "Tell me about topic 0", "--json", "--max-tokens", "30", *server).stdout)
    assert reply["topics"] == [0] and reply["answer"]
    # issue 9 item 7: another corpus under another name leaves this one served; built and read in this process
    # (a subprocess costs seconds; the command line's own process was run above)
    from topictalk.indexing import store
    from topictalk.ui import cli, tables

    assert cli.main(["index", "--input", str(ARXIV), "--limit", "150", "--no-llm", "--index-dir",
                     str(tmp_path / "papers"), "--quiet", "--index-name", "papers", *server]) == 0

    def listed(name: str) -> list[dict]:
        reader = store.open_reader(store.Location(host="127.0.0.1", port=chroma_server, index=name))
        return json.loads(json.dumps(tables.as_json(reader.topics(), reader.themes())["topics"], ensure_ascii=False))

    assert sum(t["count"] for t in listed("papers")) == 150
    assert listed(store.DEFAULT_INDEX) == topics


def test_a_second_writer_is_refused_while_the_first_holds_the_lease(chroma_server, tmp_path):
    """Issue 9 item 7: the writer lock lives in the server, so writers on other hosts see it too."""
    from topictalk.indexing import store, writer_lock

    location = store.Location(host="127.0.0.1", port=chroma_server, index="busy")
    with writer_lock.Lease(store.connect(location), location):  # a writer elsewhere, holding the lease
        out = run_cli("index", "--input", str(BBC), "--limit", "100", "--no-llm", "--index-dir", str(tmp_path),
                      "--quiet", "--index-name", "busy", "--chroma-host", "127.0.0.1",
                      "--chroma-port", str(chroma_server), check=False)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "another `topictalk index` is writing" in lines[0] and "index busy" in lines[0]
