"""Every prompt topictalk sends, as text files, and the chat-format renderers.

This package imports nothing else of topictalk: it is the bottom of the
ui -> agent -> indexing -> prompts chain.
"""

from prompts.files import load, names
from prompts.llama2 import format_chat, neutralize, neutralize_messages

__all__ = ["format_chat", "load", "names", "neutralize", "neutralize_messages"]
