"""Plain words for family admins: relay failures, migration failures, counts."""

from __future__ import annotations

import pytest

from domains.services.wording import count_of, migration_problem, relay_problem

POOL_ERROR = (
    "HTTPConnectionPool(host='127.0.0.1', port=15411): Max retries exceeded with url: / "
    "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to "
    "establish a new connection: [Errno 111] Connection refused'))"
)


@pytest.mark.parametrize(
    ("error", "status", "expected"),
    [
        (
            POOL_ERROR,
            None,
            "The relay did not answer (connection refused: it is not running or not "
            "accepting connections).",
        ),
        (
            "connection failed: [Errno 111] Connection refused",
            None,
            "The relay did not answer (connection refused",
        ),
        ("connection failed: host unreachable", None, "The relay could not be reached."),
        (
            "ReadTimeout: read timed out (10 s)",
            None,
            "The relay did not answer in time (timed out).",
        ),
        ("[Errno -2] Name or service not known", None, "The relay could not be found"),
        ("HTTP 503", 503, "The relay had a problem on its side (HTTP 503)."),
        ("", 429, "The relay is limiting requests for now (too many requests)."),
        ("bad packet", 200, "The relay reported a problem: bad packet"),
    ],
)
def test_relay_failures_read_in_plain_words(error: str, status: int | None, expected: str) -> None:
    text = relay_problem(error, status)
    assert text.startswith(expected)
    assert "HTTPConnectionPool" not in text and "Errno" not in text


def test_migration_failures_read_in_plain_words() -> None:
    assert migration_problem(
        "_pubky-challenge.a.example TXT does not hold the challenge token of migration 4 "
        '(found no TXT record); publish TXT "abc" there and verify again'
    ).startswith("The DNS check did not find the challenge record")
    assert migration_problem("DNS lookup of a.example TXT timed out").startswith(
        "DNS could not be checked just now"
    )
    assert migration_problem(f"ConnectionError: {POOL_ERROR}").startswith(
        "A Pubky relay or homeserver did not answer (connection refused"
    )
    assert migration_problem("ValueError: the key is not valid") == "the key is not valid"


def test_counts_are_singular_for_one() -> None:
    assert count_of(1, "Pubky domain") == "1 Pubky domain"
    assert count_of(2, "Pubky domain") == "2 Pubky domains"
    assert count_of(1, "family", "families") == "1 family"
    assert count_of(3, "family", "families") == "3 families"


def test_a_relay_failure_names_the_relay_when_its_url_is_known() -> None:
    assert relay_problem(POOL_ERROR, None, url="http://127.0.0.1:15411/").startswith(
        "The relay at 127.0.0.1:15411 did not answer (connection refused"
    )
    assert relay_problem("", 503, url="https://relay.example/pkarr/") == (
        "The relay at relay.example/pkarr had a problem on its side (HTTP 503)."
    )
    assert (
        relay_problem("", None, url="http://r.example") == "The relay at r.example did not answer."
    )
