"""API usage counter behind `Sforce-Limit-Info` and `GET limits/` (daily budgets, thread-safe)."""

from __future__ import annotations

import threading
from typing import Any

DEFAULT_DAILY_API_LIMIT = 15000
DEFAULT_SINGLE_EMAIL_LIMIT = 5000
DEFAULT_WORKFLOW_EMAIL_LIMIT = 390


class ApiCounter:
    """Counts API calls the way Salesforce does: one per REST call, a composite call counts once.

    The token endpoint and `GET /services/data/` are never counted. Email budgets follow the
    emailSimple rules: `SingleEmail` when the email is logged or templated, else `DailyWorkflowEmails`.
    """

    def __init__(
        self,
        daily_max: int = DEFAULT_DAILY_API_LIMIT,
        *,
        single_email_max: int = DEFAULT_SINGLE_EMAIL_LIMIT,
        workflow_email_max: int = DEFAULT_WORKFLOW_EMAIL_LIMIT,
    ) -> None:
        self._lock = threading.Lock()
        self.daily_max = daily_max
        self.single_email_max = single_email_max
        self.workflow_email_max = workflow_email_max
        self.used = 0
        self.single_email_used = 0
        self.workflow_email_used = 0

    @property
    def remaining(self) -> int:
        """Calls left today (never negative)."""
        return max(0, self.daily_max - self.used)

    def exhausted(self) -> bool:
        """True once the daily budget is used up: the next call gets REQUEST_LIMIT_EXCEEDED."""
        with self._lock:
            return self.used >= self.daily_max

    def count(self, n: int = 1) -> int:
        """Record `n` calls; returns the new total."""
        with self._lock:
            self.used += n
            return self.used

    def header(self) -> str:
        """The `Sforce-Limit-Info` header value."""
        return f"api-usage={self.used}/{self.daily_max}"

    def take_emails(self, n: int, *, single: bool) -> bool:
        """Reserve `n` email recipients from the right daily budget; False when it would overflow."""
        with self._lock:
            if single:
                if self.single_email_used + n > self.single_email_max:
                    return False
                self.single_email_used += n
            else:
                if self.workflow_email_used + n > self.workflow_email_max:
                    return False
                self.workflow_email_used += n
            return True

    def reset(self, *, used: int = 0, daily_max: int | None = None) -> None:
        """Start a new "day": zero (or set) the counters, optionally change the daily maximum."""
        with self._lock:
            self.used = used
            self.single_email_used = 0
            self.workflow_email_used = 0
            if daily_max is not None:
                self.daily_max = daily_max

    def limits_body(self) -> dict[str, Any]:
        """The body of `GET limits/` (a realistic subset of the real keys)."""

        def pair(mx: int, rem: int) -> dict[str, int]:
            return {"Max": mx, "Remaining": max(0, rem)}

        with self._lock:
            return {
                "ConcurrentAsyncGetReportInstances": pair(200, 200),
                "DailyApiRequests": pair(self.daily_max, self.daily_max - self.used),
                "DailyAsyncApexExecutions": pair(250000, 250000),
                "DailyBulkApiBatches": pair(15000, 15000),
                "DailyBulkV2QueryJobs": pair(10000, 10000),
                "DailyWorkflowEmails": pair(
                    self.workflow_email_max, self.workflow_email_max - self.workflow_email_used
                ),
                "DataStorageMB": pair(5, 5),
                "FileStorageMB": pair(20, 20),
                "MassEmail": pair(10, 10),
                "SingleEmail": pair(self.single_email_max, self.single_email_max - self.single_email_used),
            }
