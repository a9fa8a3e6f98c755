"""Hand-written call scripts shared by the llm tests: (role, text, sentiment score)."""

from __future__ import annotations

from tests.support.conversations import Line

RESOLVED_INTERNET: list[Line] = [
    ("agent", "Thank you for calling Northwind Broadband, my name is Sam. How can I help?", 0.3),
    (
        "customer",
        "Hi, yes. I'm calling because my internet has been down since yesterday "
        "evening and the router light keeps blinking red.",
        -0.4,
    ),
    ("agent", "I'm sorry to hear that. Can I have your account number please?", 0.0),
    ("customer", "Sure, it's 4471 2290.", 0.0),
    (
        "agent",
        "Thanks. I can see a fault on the line in your area. I have reset your "
        "connection from our end and pushed a firmware update to the router.",
        0.1,
    ),
    ("agent", "Could you restart the router for me now?", 0.0),
    (
        "customer",
        "Okay, restarting it. Oh, the light is green now. That fixed it, it's working again.",
        0.7,
    ),
    (
        "agent",
        "Great. I'll send you a confirmation email with the ticket reference. "
        "Is there anything else I can help you with today?",
        0.5,
    ),
    ("customer", "No, that's all I needed. Thanks for your help!", 0.8),
    ("agent", "You're welcome, have a great day.", 0.6),
]

UNRESOLVED_BILLING: list[Line] = [
    ("agent", "Good afternoon, Contoso Mobile, this is Priya speaking.", 0.2),
    (
        "customer",
        "I was charged twice on my bill this month and I want a refund for the second charge.",
        -0.5,
    ),
    ("agent", "Let me look at the billing history on the account.", 0.0),
    (
        "agent",
        "I can see both charges. Unfortunately I am unable to issue a refund from "
        "here, the billing team has to approve it.",
        -0.1,
    ),
    (
        "customer",
        "This is ridiculous. I've called three times about this double charge "
        "and nothing has been resolved!",
        -0.9,
    ),
    ("customer", "I want to speak to your manager right now.", -0.8),
    (
        "agent",
        "I understand. I'm going to escalate this to the billing team and someone "
        "will call you back within 48 hours.",
        -0.1,
    ),
    ("customer", "Whatever. This damn refund is still not resolved and I'm fed up.", -0.9),
]

PROFANE: list[Line] = [
    ("agent", "Welcome to Fabrikam support, how can I help?", 0.2),
    ("customer", "My f***ing parcel never arrived, this is such bullshit.", -0.9),
    ("agent", "I'm sorry. Is the delivery address still 12 Station Road, Scunthorpe?", 0.0),
    (
        "customer",
        "Yes. I paid for first class postage, so where the hell is it? Sh*t service.",
        -0.7,
    ),
    (
        "agent",
        "Please don't swear. I'll arrange a replacement and you should receive it "
        "by Friday. Please email us a photo of your receipt.",
        0.1,
    ),
    ("customer", "Fine. Damn, okay, thanks.", 0.1),
]

CALM: list[Line] = [
    ("agent", "Hello, Tailspin Travel, how can I help?", 0.2),
    ("customer", "Hi, I'd like to change my booking to a later flight on Tuesday.", 0.1),
    ("agent", "Of course. I have moved your booking to the six pm flight on Tuesday.", 0.3),
    ("customer", "Perfect, thank you.", 0.6),
]
