"""The one error type of the sandbox org: a Salesforce API error with its HTTP status and errorCode."""

from __future__ import annotations

from typing import Any


class SfApiError(Exception):
    """An error the sandbox answers the way Salesforce does.

    Args:
        status: HTTP status of the single-request answer (400, 404, ...).
        error_code: Salesforce ``errorCode`` / ``statusCode`` (``INVALID_FIELD``, ...).
        message: The human message, in Salesforce's wording where known.
        fields: Field names the error is about.
    """

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields or [])

    def body(self) -> list[dict[str, Any]]:
        """The single-request error body: a JSON array with one ``errorCode`` entry."""
        return [{"message": self.message, "errorCode": self.error_code, "fields": list(self.fields)}]

    def save_error(self) -> dict[str, Any]:
        """The per-record error shape used by collections and save results (``statusCode``)."""
        return {"statusCode": self.error_code, "message": self.message, "fields": list(self.fields)}

    def with_prefix(self, prefix: str) -> SfApiError:
        """A copy whose message starts with ``prefix`` (used to say which seed record failed)."""
        return SfApiError(self.status, self.error_code, f"{prefix}{self.message}", self.fields)
