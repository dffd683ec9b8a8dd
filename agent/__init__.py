"""LLM runtimes and the conversation about a topic index."""
