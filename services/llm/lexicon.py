"""Word and phrase lists for the rule-based call analyzer (data only, no logic).

Phrases are written in plain English; :mod:`services.llm.text` normalises them the same way
it normalises the transcript (lower case, contractions expanded, punctuation dropped), so
"I'll escalate" and "I will escalate" are the same phrase. The tables are kept compact
(``fmt: off``): one item a line would make them hundreds of lines long.
"""

from __future__ import annotations

# fmt: off

# ------------------------------------------------------------------------ profanity

# Base word -> its inflections and compounds. Matched as whole words only, so "class",
# "assess" and "Scunthorpe" never hit.
PROFANITY_STRONG: dict[str, tuple[str, ...]] = {
    "fuck": (
        "fucks", "fucked", "fucker", "fuckers", "fucking", "fuckin", "fuckup", "fuckups",
        "motherfucker", "motherfuckers", "motherfucking", "fuckhead", "fuckheads", "fuckwit",
        "clusterfuck",
    ),
    "shit": (
        "shits", "shitty", "shitting", "shitted", "shite", "bullshit", "bullshitting",
        "shithead", "shitheads", "shitload", "shitshow", "horseshit", "apeshit",
    ),
    "bitch": ("bitches", "bitching", "bitchy", "sonofabitch"),
    "asshole": ("assholes", "arsehole", "arseholes"),
    "bastard": ("bastards",),
    "cunt": ("cunts",),
    "dickhead": ("dickheads",),
    "prick": ("pricks",),
    "wanker": ("wankers",),
    "twat": ("twats",),
    "cocksucker": ("cocksuckers",),
    "jackass": ("jackasses",),
    "dumbass": ("dumbasses",),
    "ass": ("asses", "arse", "smartass", "badass"),
    "piss": ("pissed", "pissing", "pisses"),
    "bollocks": (),
}

PROFANITY_MILD: dict[str, tuple[str, ...]] = {
    "damn": ("damned", "damnit", "dammit", "damnation", "goddamn", "goddamned", "goddammit"),
    "hell": (),
    "crap": ("crappy", "crapped", "craps"),
}

# ------------------------------------------------------------------------- conflict

# Hostile language and escalation demands (any speaker; mostly the customer).
HOSTILE_PHRASES: tuple[str, ...] = (
    "speak to your manager", "speak to a manager", "speak to the manager",
    "speak to your supervisor", "speak to a supervisor", "talk to your manager",
    "talk to a manager", "talk to your supervisor", "talk to a supervisor",
    "get me your manager", "get me a manager", "get me a supervisor", "put me through to",
    "ridiculous", "unacceptable", "outrageous", "absurd", "pathetic", "disgraceful",
    "incompetent", "useless", "this is a joke", "are you kidding me", "are you serious",
    "waste of my time", "wasting my time", "waste of time", "sick of this", "sick and tired",
    "fed up", "i have had enough", "you people", "worst service", "worst company",
    "terrible service", "how dare you", "shut up", "you are not listening",
    "not listening to me", "i want to file a complaint", "make a formal complaint",
    "report you", "my lawyer", "take legal action", "sue you",
)

# What agents say when a call has turned hostile.
DEESCALATION_PHRASES: tuple[str, ...] = (
    "calm down", "please do not shout", "no need to shout", "please do not swear",
    "please do not use that language", "lower your voice", "do not raise your voice",
    "please stop yelling", "i will not tolerate",
)

# A customer turn at or under this sentiment score counts as strongly negative.
STRONG_NEGATIVE = -0.6
# Strongly negative customer turns needed for conflict on sentiment alone.
NEGATIVE_TURNS_FOR_CONFLICT = 2

# ----------------------------------------------------------------------- resolution

# (phrase, weight): positive = resolved, negative = unresolved. Read in the closing part.
RESOLUTION_CUES: tuple[tuple[str, float], ...] = (
    ("that fixed it", 2.0), ("that fixes it", 2.0), ("that did it", 2.0),
    ("that worked", 2.0), ("that works", 1.5), ("it works now", 2.0),
    ("it is working now", 2.0), ("it is working again", 2.0), ("working again", 1.5),
    ("problem solved", 2.0), ("that solves it", 2.0), ("that sorted it", 2.0),
    ("all sorted", 1.5), ("you have been very helpful", 1.5), ("you have been a great help", 1.5),
    ("thanks for your help", 1.0), ("thank you for your help", 1.0), ("that helps", 1.0),
    ("that is all i needed", 1.5), ("that is everything", 1.0), ("perfect thank you", 1.0),
    ("great thank you", 1.0), ("you are all set", 1.5), ("has been processed", 1.0),
    ("has been issued", 1.0), ("has been reset", 1.0), ("has been updated", 1.0),
    ("has been cancelled", 1.0), ("has been resolved", 1.5), ("i have processed", 1.0),
    ("i have issued", 1.0), ("i have reset", 1.0), ("i have updated", 1.0),
    ("i have resolved", 1.5), ("i have fixed", 1.5), ("is now active", 1.0),
    ("anything else i can help", 1.0), ("anything else i can do for you", 1.0),
    ("still not working", -2.0), ("still does not work", -2.0), ("still is not working", -2.0),
    ("still broken", -2.0), ("still have the problem", -2.0), ("did not work", -1.5),
    ("did not help", -1.5), ("does not help", -1.5), ("not resolved", -1.5),
    ("not been resolved", -2.0),
    ("nothing has been resolved", -2.0), ("i will escalate", -1.5), ("escalate this", -1.5),
    ("escalating this", -1.5), ("going to escalate", -1.5), ("open a ticket", -1.0),
    ("opened a ticket", -1.0), ("raise a ticket", -1.0), ("raised a ticket", -1.0),
    ("call you back", -1.0), ("get back to you", -1.0), ("i am unable to", -1.0),
    ("we are unable to", -1.0), ("there is nothing i can do", -2.0),
    ("nothing you can do", -2.0), ("i want to cancel", -1.5), ("i am going to cancel", -1.5),
    ("i will cancel", -1.5), ("cancel my account", -1.0), ("forget it", -1.5),
    ("i give up", -2.0), ("waste of time", -1.0),
)

# Closing window: the last share of utterances (at least CLOSING_MIN) that RESOLUTION_CUES read.
CLOSING_SHARE = 0.4
CLOSING_MIN = 4
# Mean customer score over the last turns that tips the outcome, and how much it weighs.
FINAL_SENTIMENT_THRESHOLD = 0.3
FINAL_SENTIMENT_WEIGHT = 1.0
RESOLUTION_DECISION = 1.0

# --------------------------------------------------------------------------- reason

REASON_CUES: tuple[str, ...] = (
    "calling about", "calling because", "calling to", "calling regarding", "calling for",
    "call about", "reason for my call", "i want to", "i would like to", "i need",
    "i am trying to", "i have been trying to", "i was trying to", "i have a problem",
    "i have an issue", "i have a question", "i had a question", "question about",
    "i am having", "i have been having", "problem with", "issue with", "trouble with",
    "is not working", "are not working", "does not work", "do not work", "stopped working",
    "is broken", "keeps", "i cannot", "i can not", "i am unable to", "i was charged",
    "i got charged", "charged me", "i did not receive", "i have not received",
    "never arrived", "has not arrived", "did not arrive", "i was wondering",
    "can you help me", "could you help me", "help me with", "is down", "went down",
)
REASON_MAX_CHARS = 220
# Openers stripped from the front of a quoted sentence: interjections always, greetings and
# acknowledgements only when punctuation follows them ("Right, ..." but not "Right now").
INTERJECTIONS: tuple[str, ...] = ("um", "uh", "erm", "so", "well", "oh", "and", "but")
FILLERS: tuple[str, ...] = (
    "yes", "yeah", "yep", "hi", "hello", "hey", "okay", "ok", "right", "alright", "sure",
    "good morning", "good afternoon", "good evening", "hi there", "hello there",
)

# ------------------------------------------------------------------ agent responses

# Phrases that make an agent sentence a good "key response" for the summary.
AGENT_ACTION_CUES: tuple[str, ...] = (
    "i have", "i will", "i am going to", "let me", "i can", "we can", "we will",
    "you should", "i see", "it looks like", "it seems", "the reason", "because",
    "processed", "reset", "refund", "refunded", "credited", "sent", "issued", "updated",
    "fixed", "cancelled", "scheduled", "escalate", "replaced", "restored", "applied",
    "waived", "booked", "arranged", "unlocked",
)

# Agent sentences that are ritual, not a response to the customer's problem.
AGENT_RITUAL_PHRASES: tuple[str, ...] = (
    "thank you for calling", "thanks for calling", "how can i help", "how may i help",
    "how can i assist", "my name is", "anything else", "have a great day", "have a nice day",
    "have a good day", "bear with me", "one moment", "can i have your", "could i have your",
    "may i have your", "can you confirm", "could you confirm", "thank you for holding",
    "thanks for holding", "thank you for your patience",
)
AGENT_RESPONSE_MIN_WORDS = 4

# -------------------------------------------------------------------- action items

# Regular expressions over normalised sentences (see text.normalize).
ACTION_PATTERNS: tuple[str, ...] = (
    r"\b(i|we)( will| am going to| are going to| shall) (send|email|mail|call|ring|text|"
    r"escalate|follow up|arrange|schedule|process|issue|refund|credit|transfer|forward|open|"
    r"raise|book|reset|ship|waive|update|cancel|look into|get back|contact|submit|replace|"
    r"order|note|add|apply|log|file|dispatch|reach out|investigate|check)\b",
    r"\byou (should|will|would) (receive|get|see|hear)\b",
    r"\byou (should|will) be (receiving|getting|contacted|hearing)\b",
    r"\b(please|kindly) (email|send|call|contact|reply|check|keep|restart|reboot|visit|"
    r"upload|fill|bring|return|sign|confirm|log|update|forward|try)\b",
    r"\b(you need to|you will need to|you have to|make sure to|make sure you|remember to)\b",
    r"\b(someone|somebody|a technician|an engineer|our team|the team|a supervisor|"
    r"my manager|my supervisor|a specialist|our billing team|they) will (call|contact|visit|"
    r"reach|be in touch|get back|come|arrive|be sent|be processed|be refunded|be credited|"
    r"show up|be delivered)\b",
)
MAX_ACTION_ITEMS = 6
MAX_ITEM_WORDS = 24

# -------------------------------------------------------------------------- topics

# Topic label -> trigger phrases (normalised like the transcript; matched as whole words).
TOPIC_LEXICON: dict[str, tuple[str, ...]] = {
    "billing": (
        "bill", "bills", "billing", "billed", "invoice", "invoices", "charge", "charges",
        "charged", "overcharged", "double charged", "payment", "payments", "statement",
        "direct debit", "late fee", "fees",
    ),
    "refund": ("refund", "refunds", "refunded", "money back", "reimburse", "reimbursement"),
    "cancellation": (
        "cancel", "cancelled", "canceled", "cancelling", "canceling", "cancellation",
        "close my account", "terminate", "termination",
    ),
    "password reset": (
        "password", "passwords", "reset my password", "locked out", "log in", "login",
        "sign in", "two factor", "verification code",
    ),
    "delivery": (
        "delivery", "deliver", "delivered", "shipping", "shipment", "package", "parcel",
        "tracking", "tracking number", "courier", "never arrived", "has not arrived",
    ),
    "outage": (
        "outage", "no internet", "no signal", "no service", "service is down",
        "internet is down", "is down", "been down", "internet down", "went down",
        "keeps dropping", "connection dropped",
    ),
    "technical support": (
        "router", "modem", "restart", "reboot", "error message", "error", "install",
        "installation", "wifi", "wi fi", "not working", "stopped working", "firmware",
        "settings", "app", "software", "update the app",
    ),
    "upgrade": ("upgrade", "upgrading", "new plan", "better plan", "higher tier", "faster plan"),
    "fraud": (
        "fraud", "fraudulent", "unauthorized", "unauthorised", "stolen", "suspicious",
        "scam", "identity theft", "did not make this",
    ),
    "account update": (
        "change my address", "update my address", "new address", "email address",
        "phone number", "update my details", "change my name", "account details",
    ),
    "order": ("order", "orders", "ordered", "order number", "purchase", "purchased"),
    "return": ("return", "returns", "returned", "exchange", "send it back", "return label"),
    "booking": (
        "appointment", "appointments", "booking", "bookings", "reschedule", "technician visit",
        "engineer visit", "reservation",
    ),
    "pricing": (
        "price", "prices", "pricing", "cost", "expensive", "discount", "promotion", "offer",
        "deal", "rate",
    ),
    "subscription": (
        "subscription", "subscriptions", "membership", "renew", "renewal", "auto renew",
        "contract",
    ),
    "card": (
        "credit card", "debit card", "new card", "card blocked", "card declined", "declined",
        "pin",
    ),
    "insurance claim": ("insurance", "claim", "claims", "coverage", "deductible", "premium"),
    "complaint": ("complaint", "complain", "complaining", "poor service"),
}
MAX_TOPICS = 5
# Lexicon topics need this score (a customer mention counts CUSTOMER_TOPIC_WEIGHT, others 1).
TOPIC_MIN_SCORE = 1.5
CUSTOMER_TOPIC_WEIGHT = 1.5

# --------------------------------------------------------------------- background

# Words too common in any call to be a topic keyword (the "background vocabulary").
_BACKGROUND = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can cannot could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves would shall may might must let us oh okay ok yes yeah yep no nope um uh
    erm hmm hi hello hey bye goodbye thanks thank please sorry sure right alright well really
    actually just like get got go going gone come came make made take took know knew think
    thought see say said tell told want wanted need needed help helped call called calling
    today tomorrow yesterday day days week weeks month months year years time times minute
    minutes hour hours moment second thing things something anything nothing everything way
    good great fine nice perfect lot bit much many one two three first last next new old back
    again still already ever even never always sometimes maybe probably definitely course
    morning afternoon evening name speaking customer service calls line hold number account
    problem issue question check look looking give given put keep kept try trying tried work
    working works able sir madam mister miss mrs mr does doesn't don't didn't isn't wasn't
    can't won't i'm i've i'll i'd you're you've you'll we're we'll it's that's there's let's
    would've could've should've gonna wanna gotta kind sort mean means meant use used using
    monday tuesday wednesday thursday friday saturday sunday weekend tonight january february
    march april june july august september october november december
"""
STOPWORDS: frozenset[str] = frozenset(_BACKGROUND.split())
KEYWORD_MIN_LENGTH = 4

# fmt: on
