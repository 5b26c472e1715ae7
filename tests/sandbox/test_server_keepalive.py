"""The sandbox keeps HTTPS connections alive (HTTP/1.1), as a real org does, without desyncing them."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from prepbot.sandbox.runner import SandboxHandle, start_sandbox

SEED = {"User": [{"Username": "u@x.test", "LastName": "User", "Email": "u@x.test"}]}


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxHandle]:
    with start_sandbox(seed_data=SEED) as handle:
        yield handle


def _connection(org: SandboxHandle) -> http.client.HTTPSConnection:
    url = urlsplit(org.instance_url)
    context = ssl.create_default_context(cafile=str(org.ca_bundle))
    return http.client.HTTPSConnection(url.hostname or "", url.port, context=context, timeout=30)


def _get(
    conn: http.client.HTTPSConnection, path: str, token: str, **headers: str
) -> http.client.HTTPResponse:
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", **headers})
    resp = conn.getresponse()
    resp.read()
    return resp


def test_several_api_calls_travel_on_one_connection(org: SandboxHandle) -> None:
    conn = _connection(org)
    first = _get(conn, "/services/data/v62.0/limits", org.access_token)
    sock = conn.sock
    second = _get(conn, "/services/data/v62.0/query?q=SELECT+Id+FROM+User", org.access_token)
    third = _get(conn, "/services/data/v62.0/sobjects/Nope/describe", org.access_token)
    assert (first.status, second.status, third.status) == (200, 200, 404)
    assert first.getheader("Connection") is None and not second.will_close
    assert conn.sock is sock  # never reconnected
    conn.close()


def test_a_body_the_route_does_not_read_leaves_the_connection_usable(org: SandboxHandle) -> None:
    conn = _connection(org)
    body = json.dumps({"ignored": "x" * 5000})
    conn.request(
        "POST", "/services/data/v62.0/no/such/route", body=body, headers={"Content-Type": "application/json"}
    )
    lost = conn.getresponse()
    lost.read()
    sock = conn.sock
    after = _get(conn, "/services/data/v62.0/limits", org.access_token)
    assert lost.status == 404 and after.status == 200
    assert int(lost.getheader("Content-Length") or "0") > 0
    assert conn.sock is sock
    conn.close()


def test_a_client_that_asks_to_close_gets_connection_close(org: SandboxHandle) -> None:
    conn = _connection(org)
    resp = _get(conn, "/services/data/v62.0/limits", org.access_token, Connection="close")
    assert resp.status == 200
    assert resp.getheader("Connection") == "close" and resp.will_close
    conn.close()


def test_a_no_content_answer_has_no_body_and_keeps_the_connection(org: SandboxHandle) -> None:
    conn = _connection(org)
    conn.request("DELETE", "/__sandbox/faults", headers={"Authorization": f"Bearer {org.access_token}"})
    resp = conn.getresponse()
    assert resp.status == 204 and resp.read() == b""
    assert resp.getheader("Content-Length") is None
    assert _get(conn, "/services/data/v62.0/limits", org.access_token).status == 200
    conn.close()
