"""Access tokens of the sandbox: the long-lived start token (kept in the state folder) and OAuth tokens."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

TOKEN_FILE = "access_token"
ORG_ID = "00D000000000001AAA"


def new_token() -> str:
    """A token shaped like Salesforce's (`00D...!AQ...`)."""
    return f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(60)}"


class TokenRegistry:
    """Bearer tokens and the user each one runs as (thread-safe).

    `control_token` is the token issued at start; it also guards the /__sandbox/ control endpoints and
    stays valid for them even after `expire_all()`, so a test can still drive the sandbox.
    """

    def __init__(self, state_dir: Path, user_id: str | None) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str | None] = {}
        self._path = state_dir / TOKEN_FILE
        token = self._path.read_text().strip() if self._path.exists() else ""
        if not token:
            token = new_token()
            self._write(token)
        self.control_token = token
        self.access_token = token
        self._tokens[token] = user_id

    def _write(self, token: str) -> None:
        """Write the token file with mode 0600, atomically."""
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        os.replace(tmp, self._path)

    @property
    def token_file(self) -> Path:
        """The file holding the current start token."""
        return self._path

    def issue(self, user_id: str | None) -> str:
        """A new token running as `user_id`."""
        token = new_token()
        with self._lock:
            self._tokens[token] = user_id
        return token

    def user_of(self, token: str) -> tuple[bool, str | None]:
        """(valid, user id) for a bearer token."""
        with self._lock:
            if token in self._tokens:
                return True, self._tokens[token]
            return False, None

    def expire_all(self) -> None:
        """Invalidate every API token (a session timeout), including the start token."""
        with self._lock:
            self._tokens.clear()

    def renew(self, user_id: str | None) -> str:
        """Issue a new start token, rewrite the token file and return it."""
        token = self.issue(user_id)
        self.access_token = token
        self._write(token)
        return token

    def set_default_user(self, user_id: str | None) -> None:
        """Make the start token run as `user_id` (after seeding, when the running user is known)."""
        with self._lock:
            if self.access_token in self._tokens:
                self._tokens[self.access_token] = user_id

    def is_control(self, token: str) -> bool:
        """True for the token that may use the control endpoints."""
        return secrets.compare_digest(token, self.control_token) or secrets.compare_digest(
            token, self.access_token
        )
