"""The router's rule for greetings, thanks and "what can you do?" (``context.Builder.help`` answers them from the
index, without the model or a search).

Before this, "hi" and "what can you do?" were searched for like subjects and answered "the corpus has nothing on
that", the first thing a new user reads. A message is small talk only when it is nothing else (patterns
anchored at both ends): "hi, what are the topics?" is a question about the topics.
"""

from __future__ import annotations

import re

from topictalk.agent.intents import BRIEF, HELP
from topictalk.agent.plans import Asked, Plan

_END = r"[\s!.,?:)]*$"
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening|day)|hola|bonjour|"
                       r"salut|hallo|guten\s+tag|ciao|buongiorno|ol[aá]|bom\s+dia)(?:\s+(?:there|all|everyone|topictalk))?"
                       + _END)
_HELP = re.compile(r"^\s*(?:help|\?|what\s+can\s+(?:you|i)\s+(?:do|ask)(?:\s+(?:here|you|with\s+this))?|"
                   r"what\s+do\s+you\s+do|what\s+should\s+i\s+ask(?:\s+you)?|how\s+(?:do|can|should)\s+i\s+use\s+"
                   r"(?:this|you|it|topictalk)|who\s+are\s+you|what\s+are\s+you|how\s+does\s+this\s+work|"
                   r"what\s+is\s+this(?:\s+(?:app|tool))?)" + _END)
_THANKS = re.compile(r"^\s*(?:(?:ok(?:ay)?|great|perfect|nice|cool|awesome)[\s,!.]*)?(?:thanks?|thank\s+you|thx|ty|cheers|"
                     r"merci|gracias|danke|grazie|obrigad[oa])(?:\s+(?:a\s+lot|so\s+much|very\s+much|again))?" + _END)


# an open invitation: what the corpus is about is the best first answer ("where should I start?")
_OPEN = re.compile(r"^\s*(?:(?:please\s+)?(?:tell|show)\s+me\s+something\s+(?:interesting|cool|new)|surprise\s+me|"
                   r"where\s+(?:should|do|can)\s+i\s+(?:start|begin)|(?:which|what)(?:\s+(?:topic|theme|ones?))?\s+"
                   r"(?:should|do|would\s+you\s+suggest)\s+i\s+(?:read|start\s+with|look\s+at|begin\s+with)"
                   r"(?:\s+first)?|what(?:\s+is|'s)\s+worth\s+reading)" + _END)


def route(a: Asked) -> Plan | None:
    if _OPEN.search(a.q):
        return Plan(BRIEF, a.question)
    if _THANKS.search(a.q):
        return Plan(HELP, a.question, aspect="thanks")
    if _GREETING.search(a.q) or _HELP.search(a.q):
        return Plan(HELP, a.question)
    return None
