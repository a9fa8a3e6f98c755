"""Who is the agent and who is the customer.

Dual-channel calls: by channel (the agent's channel is a setting, 0 by default). Other
calls: by what each speaker says. Agents greet with the company's name, offer help,
verify identity and close the call; customers state a problem about *their* account.
The opening utterance weighs most: whoever answers an inbound call with a greeting is
the agent.

A third (fourth...) speaker is on one side or the other: a supervisor or a second agent
after a transfer is an agent; a relative the customer hands the phone to is a customer.
Besides the phrases, what was said just before they first speak counts (an agent saying
"let me get my supervisor", a customer saying "I'll put him on"), as does what they say
("our technicians", "your account" against "my son"). How they are addressed is not read.

The phrases are English: in a call in another language they are not read (a word such as
"supervisor" would match by chance), and who speaks first is the agent (the one who answers
an inbound call), the other of two speakers the customer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.analysis.languages import is_english
from core.domain import Role, Utterance

AGENT_PHRASES = (
    "thank you for calling",
    "thanks for calling",
    "thank you for contacting",
    "welcome to",
    "you've reached",
    "you have reached",
    "my name is",
    "how can i help",
    "how may i help",
    "how can i assist",
    "how may i assist",
    "what can i do for you",
    "is there anything else",
    "anything else i can",
    "for security",
    "verify your",
    "can i have your",
    "can i get your",
    "may i have your",
    "could i have your",
    "let me check",
    "let me look",
    "let me pull up",
    "bear with me",
    "please hold",
    "i'll transfer",
    "i can help you with",
    "i'd be happy to help",
    "i'd be glad to help",
    "i apologize for the inconvenience",
    "sorry for the inconvenience",
    "i understand your frustration",
    "have a great day",
    "have a wonderful day",
    "thank you for your patience",
    "thank you for holding",
    "i'm calling from",
    "this is a call from",
)
CUSTOMER_PHRASES = (
    "i'm calling",
    "i am calling",
    "i was calling",
    "i have a problem",
    "i have an issue",
    "i've got a problem",
    "my account",
    "my bill",
    "my card",
    "my order",
    "my internet",
    "my phone",
    "my password",
    "my policy",
    "my package",
    "i was charged",
    "i've been charged",
    "i want to",
    "i'd like to",
    "i would like to",
    "i need to",
    "can you help me",
    "could you help me",
    "it's not working",
    "isn't working",
    "doesn't work",
    "i've been waiting",
    "speak to a manager",
    "speak to your manager",
)
# Company-side talk that an agent who joins later (a supervisor, a colleague) uses.
COMPANY_PHRASES = (
    "supervisor",
    "team leader",
    "joining the call",
    "joined the call",
    "taking over",
    "i've reviewed",
    "i have reviewed",
    "i can see",
    "i see on your",
    "our technicians",
    "our team",
    "our records",
    "on our side",
    "we can offer",
    "i can offer",
    "i've approved",
    "i've issued",
    "i've added",
    "your account",
    "your area",
    "your policy",
    "your claim",
)
# Caller-side talk of someone the customer brings in.
CALLER_SIDE_PHRASES = (
    "policy holder",
    "account holder",
    "my son",
    "my daughter",
    "my wife",
    "my husband",
    "my mother",
    "my father",
    "on speaker",
)
# What is said just before a new voice speaks for the first time.
HANDED_TO_COMPANY = (
    "transfer",
    "supervisor",
    "manager",
    "colleague",
    "put you through",
    "connect you",
    "please hold",
    "bear with me",
)
HANDED_TO_CALLER = (
    "put him on",
    "put her on",
    "put them on",
    "he's right here",
    "she's right here",
    "they're right here",
    "here he is",
    "here she is",
    "on speaker",
)
_OPENING_WEIGHT = 3.0
_HANDOVER_WEIGHT = 2.0


@dataclass(frozen=True)
class RoleEvidence:
    agent: float
    customer: float

    @property
    def net(self) -> float:
        return self.agent - self.customer


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    return re.sub(r"[^a-z0-9' ]+", " ", text)


def _count(text: str, phrases: Sequence[str]) -> int:
    return sum(text.count(p) for p in phrases)


def score_speakers(utterances: Sequence[Utterance]) -> dict[str, RoleEvidence]:
    agent: dict[str, float] = defaultdict(float)
    customer: dict[str, float] = defaultdict(float)
    first = min(utterances, key=lambda u: u.start) if utterances else None
    for u in utterances:
        weight = _OPENING_WEIGHT if u is first else 1.0
        text = _normalise(u.text)
        agent[u.speaker] += weight * _count(text, AGENT_PHRASES)
        customer[u.speaker] += weight * _count(text, CUSTOMER_PHRASES)
    speakers = {u.speaker for u in utterances}
    return {s: RoleEvidence(agent[s], customer[s]) for s in speakers}


def assign_roles(
    utterances: Sequence[Utterance],
    speakers: Sequence[str],
    *,
    channel_of: dict[str, int] | None = None,
    agent_channel: int | None = 0,
    language: str | None = None,
) -> dict[str, Role]:
    """Map each speaker id to a role (``language``: the call's; English phrases are read
    only in English calls, or when it is not known)."""
    if not speakers:
        return {}
    if channel_of and agent_channel is not None and len(channel_of) >= 2:
        return {
            s: (Role.AGENT if channel_of.get(s) == agent_channel else Role.CUSTOMER)
            for s in speakers
        }

    english = is_english(language)
    evidence = (
        score_speakers(utterances)
        if english
        else {u.speaker: RoleEvidence(0.0, 0.0) for u in utterances}
    )
    none = RoleEvidence(0.0, 0.0)
    spoken = [s for s in speakers if s in evidence]
    roles = {s: Role.UNKNOWN for s in speakers}
    if not spoken:
        return roles
    order = {
        u.speaker: i
        for i, u in reversed(list(enumerate(sorted(utterances, key=lambda u: u.start))))
    }
    # The agent: the strongest net agent evidence; ties go to whoever spoke first.
    agent = max(spoken, key=lambda s: (evidence.get(s, none).net, -order.get(s, 1_000)))
    has_evidence = any(e.agent or e.customer for e in evidence.values())
    if len(spoken) == 1:
        e = evidence[agent]
        roles[agent] = Role.AGENT if e.net > 0 else Role.CUSTOMER if e.net < 0 else Role.UNKNOWN
        return roles
    if not has_evidence and len(spoken) > 2:
        return roles
    roles[agent] = Role.AGENT
    others = [s for s in spoken if s != agent]
    if len(others) == 1:
        roles[others[0]] = Role.CUSTOMER
        return roles
    # Several others: the one with the strongest customer evidence (then the most
    # talkative) is the customer; others are agents if they sound like one.
    words: dict[str, int] = defaultdict(int)
    for u in utterances:
        words[u.speaker] += len(u.words)
    customer = max(others, key=lambda s: (-evidence[s].net, words[s]))
    roles[customer] = Role.CUSTOMER
    sides = side_evidence(utterances) if english else {}
    for s in others:
        if s != customer:
            net = evidence[s].net + sides.get(s, 0.0)
            roles[s] = Role.AGENT if net >= 1 else Role.CUSTOMER if net <= -1 else Role.UNKNOWN
    return roles


def side_evidence(utterances: Sequence[Utterance]) -> dict[str, float]:
    """Per speaker: company-side minus caller-side talk, and how they were handed the call.

    Counted for everyone, read only for the speakers beyond the agent and the customer.
    """
    ordered = sorted(utterances, key=lambda u: u.start)
    out: dict[str, float] = defaultdict(float)
    seen: set[str] = set()
    for i, u in enumerate(ordered):
        text = _normalise(u.text)
        out[u.speaker] += _count(text, COMPANY_PHRASES) - _count(text, CALLER_SIDE_PHRASES)
        if u.speaker in seen:
            continue
        seen.add(u.speaker)
        before = next((v for v in reversed(ordered[:i]) if v.speaker != u.speaker), None)
        if before is not None:
            cue = _normalise(before.text)
            handed = _count(cue, HANDED_TO_COMPANY) - _count(cue, HANDED_TO_CALLER)
            out[u.speaker] += _HANDOVER_WEIGHT * ((handed > 0) - (handed < 0))
    return dict(out)
