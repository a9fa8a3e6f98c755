from core.analysis.speaker_roles import assign_roles
from core.domain import Role, Utterance
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


def test_a_supervisor_after_a_transfer_is_an_agent():
    utterances = [
        u(0, "S1", 0.0, "Thank you for calling Contoso, my name is Emma, how can I help?"),
        u(1, "S2", 4.0, "I was charged twice and I want a refund right now."),
        u(2, "S1", 8.0, "I understand. Let me transfer you to my supervisor, one moment."),
        u(3, "S3", 14.0, "Hello, this is Mark. I've reviewed the charges and refunded one."),
        u(4, "S2", 18.0, "Thank you, that is all I wanted."),
    ]
    roles = assign_roles(utterances, ["S1", "S2", "S3"])
    assert roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER, "S3": Role.AGENT}


def test_someone_the_customer_hands_the_phone_to_is_on_the_customers_side():
    utterances = [
        u(0, "S1", 0.0, "Thank you for calling Litware Insurance, how can I help you today?"),
        u(1, "S2", 4.0, "A pipe burst at my father's house and I'd like to file a claim."),
        u(2, "S1", 8.0, "I'll need the policy holder's permission first."),
        u(3, "S2", 11.0, "Yes, he's right here, I'll put him on speaker."),
        u(4, "S3", 14.0, "Hello, this is Frank. I'm happy for my son to handle it."),
        u(5, "S1", 18.0, "Thank you, Mister Wilson."),
    ]
    roles = assign_roles(utterances, ["S1", "S2", "S3"])
    assert roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER, "S3": Role.CUSTOMER}


def test_a_third_voice_with_no_evidence_either_way_stays_unknown():
    utterances = [
        u(0, "S1", 0.0, "Thanks for calling Acme, how may I help you today?"),
        u(1, "S2", 4.0, "I want to cancel my account."),
        u(2, "S3", 8.0, "Hello there."),
    ]
    assert assign_roles(utterances, ["S1", "S2", "S3"])["S3"] == Role.UNKNOWN
