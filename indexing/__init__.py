"""Corpus, embeddings, topics and the Chroma schema."""
