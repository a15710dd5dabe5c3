"""The shared HTTP client: backoff, Retry-After, timeouts, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from recon.connectors.http import ApiClient, Hints, RetryPolicy, redact, retry_after_seconds, same_origin
from recon.errors import ConnectorError
from tests.recon.connectors.standin import Reply, StandIn

HINTS = Hints(credentials="the keys", permissions="the role")


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1  # jittered


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(later) or 0) <= 30
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_redact_replaces_every_secret() -> None:
    assert redact("key=abc123secret and abc123secret", ["abc123secret", "", "x"]) == "key=*** and ***"


def test_a_slow_service_times_out_a_bounded_number_of_times() -> None:
    with StandIn(lambda request: Reply(200, [], delay=1.0)) as server:
        api = ApiClient(service="Test", connection="slow", base_url=server.url, hints=HINTS, timeout=0.2,
                        retry=RetryPolicy(attempts=2, base_seconds=0.01))
        with api, pytest.raises(ConnectorError, match=r"Test connection 'slow' did not answer /items after 2 attempts"):
            api.get_json("items")
        assert len(server.hits("/items")) == 2


def test_retry_after_is_capped_and_the_sleep_is_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    with StandIn(lambda request: Reply(200, {"ok": True})) as server:
        server.fail("/items", Reply(429, None, {"Retry-After": "3600"}), Reply(429, None, {"Retry-After": "2"}))
        api = ApiClient(service="Test", connection="c", base_url=server.url, hints=HINTS,
                        retry=RetryPolicy(attempts=3, max_retry_after=60), sleep=waits.append)
        with api:
            body, _ = api.get_json("items")
    assert body == {"ok": True} and waits == [60, 2.0]


def test_an_empty_answer_is_none() -> None:
    with StandIn(lambda request: Reply(200, None)) as server, ApiClient(
            service="Test", connection="c", base_url=server.url, hints=HINTS) as api:
        body, _ = api.get_json("empty")
    assert body is None


def test_a_link_to_another_host_is_refused_before_anything_is_sent() -> None:
    with StandIn(lambda request: Reply(200, {"ok": True})) as elsewhere, \
            StandIn(lambda request: Reply(200, {"ok": True})) as home:
        api = ApiClient(service="Test", connection="c", base_url=home.url + "/api", hints=HINTS,
                        headers={"Secret": "header-secret-123"}, secrets=("header-secret-123",))
        with api:
            body, _ = api.get_json(home.url + "/api/next?page=2")  # an absolute link on the same host
            with pytest.raises(ConnectorError, match=r"sent to another host \(localhost\) .*refused to follow"):
                api.get_json(elsewhere.url.replace("127.0.0.1", "localhost") + "/steal")
        assert body == {"ok": True} and len(home.hits("/api/next")) == 1
        assert not elsewhere.requests


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("https://a.example/x?y=1", "https://a.example/v1")
    assert not same_origin("http://a.example/x", "https://a.example/v1")
    assert not same_origin("https://a.example:8443/x", "https://a.example/v1")
    assert not same_origin("https://b.example/x", "https://a.example/v1")


def test_an_errors_list_is_quoted_in_the_message() -> None:
    with StandIn(lambda request: Reply(500, {"errors": ["Unable to find fld in the Contracts Entity."]})) as server:
        api = ApiClient(service="Test", connection="c", base_url=server.url, hints=HINTS,
                        retry=RetryPolicy(attempts=1))
        with api, pytest.raises(ConnectorError, match=r"The service said: Unable to find fld in the Contracts"):
            api.get_json("items")


def test_an_accepted_status_is_answered_not_raised() -> None:
    with StandIn(lambda request: Reply(404, {"message": "Invalid subscriptionId"})) as server, ApiClient(
            service="Test", connection="c", base_url=server.url, hints=HINTS) as api:
        body, response = api.get_json("summaries", accept=(404,))
    assert response.status_code == 404 and body == {"message": "Invalid subscriptionId"}
