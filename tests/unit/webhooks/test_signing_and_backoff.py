"""Signatures (Stripe's scheme) and the retry schedule."""

import hashlib
import hmac

import pytest

from core.webhooks.dispatcher import RetryPolicy
from core.webhooks.signing import new_secret, signature_header, verify

BODY = b'{"id":"e1","type":"job.succeeded"}'


def test_the_signature_is_an_hmac_sha256_of_the_timestamp_and_the_body():
    header = signature_header("whsec_test-secret-123", 1_700_000_000, BODY)
    expected = hmac.new(b"whsec_test-secret-123", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_signature_and_refuses_a_change_a_wrong_secret_or_an_old_one():
    secret = new_secret()
    header = signature_header(secret, 1_700_000_000, BODY)
    assert verify(secret, header, BODY, now=1_700_000_010)
    assert not verify(secret, header, BODY + b" ", now=1_700_000_010)
    assert not verify(new_secret(), header, BODY, now=1_700_000_010)
    assert not verify(secret, header, BODY, now=1_700_000_000 + 301)  # a replay, later
    assert not verify(secret, "v1=abc", BODY, now=1_700_000_000)


def test_generated_secrets_differ_and_are_long():
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(a) > 40


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        (0.0, [2.5, 5.0, 10.0, 20.0, 30.0, 30.0]),  # the lower half of each delay
        (1.0, [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]),  # its whole: doubling, capped
    ],
)
def test_the_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half(rng, expected):
    policy = RetryPolicy(base_s=5, max_s=60, max_attempts=10)
    assert [policy.delay(n, lambda: rng) for n in range(1, 7)] == expected
