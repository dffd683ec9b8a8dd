"""The Chroma schema, written and read here only: ``layout`` (names, shared encodings, the meta
record), ``writer`` (a new generation and its commit), ``reader`` (the live generation).

An index has a *name* (``--index-name``, default ``default``) that prefixes
its collections, so many indexes share one Chroma server. Collections
per *generation*: ``<prefix>g<N>_documents`` (id and embedding; one metadata key,
``topic_at``, that holds both the document's topic, filtered on as a range, and the number
of its record in ``<prefix>g<N>_texts``: see :func:`layout.topic_at`),
``<prefix>g<N>_texts`` (each document's text, title, probability, map position, core flag
and theme, as JSON, :data:`layout.TEXT_CHUNK` documents a record), ``<prefix>g<N>_map`` (every document's map point,
in chunks of :data:`layout.MAP_CHUNK`: the map reads a few records, not every document),
``<prefix>g<N>_topics`` (id = topic id;
the label as document; the topic embedding; metadata label, keywords,
KeyBERT and MMR words, size, theme, representative ids) and ``<prefix>g<N>_themes``
(id = theme id; label, size, keywords, topic ids; the theme's centroid). Indexes of older
layouts are read as they were written: without themes (none), without the map collection
(the text a Chroma document, every field its own key), without the texts collection (the
text and a JSON list of the other fields as metadata of each document).

Why the text is neither a Chroma document nor a metadata key of its own: embedded Chroma
indexes every document for full-text search (an FTS5 trigram index, 70% of the write time
at 40k abstracts) and every string metadata value in a B-tree over (key, value), neither of
which topictalk queries (Chroma's Schema can switch them off on Chroma Cloud, but the embedded
store ignores it); each metadata key costs a row and an index entry per document. At 20k
abstracts on 2 cores (scratch measurement): ids and embeddings alone 2.2 s, with two int keys
3.6 s, with the text as a key 7.9 s, with it in records of 32 documents 6.0 s; one int key
and the texts in records 3.5 s; commit ab30ae0's layout 20.1 s. The HNSW settings are in :data:`layout.DOCUMENT_HNSW`.
``<prefix>meta`` holds one
record ``current`` whose metadata names the live generation (and the one
before it) and carries the manifest. The default index's prefix is ``tt_``,
the names every index had before names existed; others use ``tt_<name>_``.

A new index is written as generation N+1 and becomes live by one upsert of
that record, so a run killed at any point leaves generation N untouched and
still served. The commit keeps generation N until the next commit, so a
reader that opened N keeps answering while it moves to N+1 between queries.

Parts: an add (``topictalk add``) changes none of the documents already indexed, so its
generation writes only the new ones, in its own ``documents`` and ``texts`` collections, and
reads the others from the live generation's (``writer.Shared``): the meta record lists the
generations whose collections hold a generation's documents (``parts``, in writing order;
one, itself, when absent). Parts are never written again once committed, so sharing keeps
what separate generations guarantee. A reader asks each part and merges: the nearest of
their nearest, the union of their members. The map, topics and themes are written whole
by every generation. A refine, a re-index, or an add onto :data:`writer.MAX_PARTS` parts
writes every document again, as one part; a commit keeps the parts of the live generation
and of the one it replaced. Why: writing the 20,000 documents an add of 1,000 left as they
were was 9-11 s of its ~40 (2 cores).

Writers exclude each other where the data is (``indexing.writer_lock``): on a
server, by a lease record in the store; in an embedded folder, by a file lock.
"""

# the chunk sizes and the follow interval are not re-exported: the writer and the reader read them from
# ``layout`` when they run, so a copy here would be changed (or patched in a test) to no effect
from topictalk.indexing.store.layout import (
    DEFAULT_INDEX,
    DOCUMENT_HNSW,
    Location,
    Names,
    check_index_name,
    connect,
    live_generation,
    manifest_file,
    write_manifest_file,
)
from topictalk.indexing.store.reader import Reader, open_reader
from topictalk.indexing.store.writer import MAX_PARTS, Held, Shared, Writer, begin, drop_stale

__all__ = ["DEFAULT_INDEX", "DOCUMENT_HNSW", "MAX_PARTS", "Held", "Location", "Names", "Reader", "Shared", "Writer", "begin",
           "check_index_name", "connect", "drop_stale", "live_generation", "manifest_file", "open_reader",
           "write_manifest_file"]
