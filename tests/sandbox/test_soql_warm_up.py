"""The sandbox builds its SOQL parser while it starts, not on the org's first query (issue 7).

Checked in a fresh interpreter: in the test process another test may have built it already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from prepbot.sandbox.soql import parser

_STARTED_ORG = textwrap.dedent(
    """
    import json, threading
    from prepbot.sandbox.soql import parser
    from prepbot.sandbox.runner import start_sandbox

    before = parser.parser_ready()
    with start_sandbox():
        for thread in threading.enumerate():
            if thread.name == "soql-parser":
                thread.join()
        print(json.dumps({"before": before, "after_start": parser.parser_ready()}))
    """
)


def test_a_started_sandbox_has_built_its_parser_before_any_query() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _STARTED_ORG], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"before": False, "after_start": True}


def test_a_query_during_the_warm_up_gets_the_same_parser() -> None:
    thread = parser.warm_up()
    first = parser._lark()
    thread.join()
    assert parser.parser_ready()
    assert parser._lark() is first
    assert parser.parse("SELECT Id FROM Contact").sobject == "Contact"
