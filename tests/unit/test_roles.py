from core.domain import Role, Utterance
from core.roles import assign_roles
from tests.unit.fakes import words_of


def u(i, speaker, start, text):
    words = words_of(text, start)
    return Utterance(i, speaker, start, words[-1].end, text, words)


def test_the_greeter_is_the_agent_even_when_not_first_in_the_id_order():
    utterances = [
        u(
            0,
            "S2",
            0.0,
            "Thank you for calling Northwind Bank, my name is Sarah, how can I help you?",
        ),
        u(1, "S1", 5.0, "Hi, I'm calling because my card was charged twice."),
        u(2, "S2", 9.0, "Let me check that for you."),
    ]
    roles = assign_roles(utterances, ["S1", "S2"])
    assert roles == {"S2": Role.AGENT, "S1": Role.CUSTOMER}


def test_channel_map_wins_for_dual_channel_calls():
    utterances = [
        u(0, "S1", 0.0, "I'm calling about my bill"),
        u(1, "S2", 3.0, "thank you for calling"),
    ]
    roles = assign_roles(utterances, ["S1", "S2"], channel_of={"S1": 0, "S2": 1}, agent_channel=0)
    assert roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER}
    roles = assign_roles(utterances, ["S1", "S2"], channel_of={"S1": 0, "S2": 1}, agent_channel=1)
    assert roles == {"S1": Role.CUSTOMER, "S2": Role.AGENT}


def test_three_party_call_gets_agent_customer_and_a_third_role():
    utterances = [
        u(0, "S1", 0.0, "Thanks for calling Acme, how may I help you today?"),
        u(1, "S2", 4.0, "I want to cancel my account, it's not working at all."),
        u(2, "S3", 8.0, "Hello, this is the supervisor, let me check your account, please hold."),
        u(3, "S2", 12.0, "I've been waiting for an hour."),
    ]
    roles = assign_roles(utterances, ["S1", "S2", "S3"])
    assert roles["S1"] == Role.AGENT
    assert roles["S2"] == Role.CUSTOMER
    assert roles["S3"] == Role.AGENT


def test_a_lone_speaker_without_evidence_is_unknown():
    roles = assign_roles([u(0, "S1", 0.0, "ask not what your country can do for you")], ["S1"])
    assert roles == {"S1": Role.UNKNOWN}


def test_no_speakers():
    assert assign_roles([], []) == {}
