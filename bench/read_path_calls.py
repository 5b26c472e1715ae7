"""Print the API calls SalesforceCrm's read path costs for N meetings (sandbox counter), and the time.

Run: ``.venv/bin/python bench/read_path_calls.py [N ...]`` (default 10 1500 10000).
"""

from __future__ import annotations

import math
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prepbot.crm.salesforce import SalesforceCrm, SessionAuth
from prepbot.sandbox.runner import start_sandbox
from tests.crm.orgdata import DAY, MAPPING, deal_per_meeting, generated_events, org_with


def measure(seed: dict[str, Any], page_size: int) -> tuple[int, int, float]:
    """(meetings read, API calls counted by the sandbox, seconds) for the meetings of ``seed``."""
    with start_sandbox(seed_data=seed) as org:
        crm = SalesforceCrm(
            instance_url=org.instance_url,
            auth=SessionAuth(org.access_token),
            ca_bundle=str(org.ca_bundle),
            page_size=page_size,
            fields=MAPPING,
        )
        before = org.api_calls.used
        started = time.perf_counter()
        read = sum(1 for _ in crm.meetings_between(DAY, DAY + timedelta(days=1)))
        elapsed = time.perf_counter() - started
        crm.close()
        return read, org.api_calls.used - before, elapsed


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10, 1500, 10000]
    print("meetings  opportunities   api_calls  minimum  seconds")
    for n in sizes:
        for label, seed in (("1", org_with(generated_events(n))), ("1 per meeting", deal_per_meeting(n))):
            read, calls, seconds = measure(seed, 2000)
            print(f"{read:8d}  {label:>13}  {calls:10d}  {math.ceil(n / 2000):7d}  {seconds:7.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
