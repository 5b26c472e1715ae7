"""Helpers for the sandbox server tests: raw HTTPS calls and a login-host redirect adapter."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


class RedirectToSandbox(HTTPAdapter):
    """Send requests for a login host (login.salesforce.com, acme.my.salesforce.com) to the sandbox.

    simple-salesforce hard-codes `https://{domain}.salesforce.com/services/oauth2/token`; tests mount
    this on that prefix so the real token flows reach the local org. Test-only: the sandbox itself
    just serves /services/oauth2/token at its own address.
    """

    def __init__(self, instance_url: str) -> None:
        super().__init__()
        self.instance_url = instance_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        request.url = f"{self.instance_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def api(sandbox: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    """A raw HTTPS call to the sandbox (for status codes and headers simple-salesforce hides)."""
    with sandbox.session() as session:
        headers = {"Authorization": f"Bearer {token or sandbox.access_token}", **kwargs.pop("headers", {})}
        return session.request(method, f"{sandbox.instance_url}{path}", headers=headers, timeout=30, **kwargs)
