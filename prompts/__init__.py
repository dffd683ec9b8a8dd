"""Every prompt topictalk sends, as text files, and the chat-format renderers.

This package imports nothing else of topictalk: it is the bottom of the
ui -> agent -> indexing -> prompts chain.
"""

from topictalk.prompts.files import load, names
from topictalk.prompts.llama2 import format_chat
from topictalk.prompts.neutralize import UNKNOWN_VOCABULARY, model_tokens, neutralize, neutralize_messages
from topictalk.prompts.templates import TemplateError, fill, head, placeholders

__all__ = [
    "UNKNOWN_VOCABULARY", "TemplateError", "fill", "format_chat", "head", "load", "model_tokens", "names", "neutralize", "neutralize_messages",
    "placeholders",
]
