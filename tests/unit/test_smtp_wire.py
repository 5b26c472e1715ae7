"""The envelope's addresses, bracketed as the stdlib brackets them (issue 7's shortcut)."""

from __future__ import annotations

import smtplib

from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot.transports.smtp_wire import pipelined_commands, quoted_address

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
ATOMS = st.text(ATEXT, min_size=1, max_size=6)
LABELS = st.text("ab0-", min_size=1, max_size=5)
DOT_ATOM_ADDRESSES = st.builds(
    "{}@{}".format,
    st.lists(ATOMS, min_size=1, max_size=3).map(".".join),
    st.lists(LABELS, min_size=1, max_size=3).map(".".join),
)
# anything else an address field may hold: quotes, comments, brackets, commas, non-ASCII
OTHER_ADDRESSES = st.text(ATEXT + '.@()[],;:"\\ é', min_size=1, max_size=16)


@settings(max_examples=300, deadline=None)
@given(address=st.one_of(DOT_ATOM_ADDRESSES, OTHER_ADDRESSES))
def test_an_address_is_bracketed_as_smtplib_brackets_it(address: str) -> None:
    assert quoted_address(address) == smtplib.quoteaddr(address)


def test_the_pipelined_commands_carry_the_bracketed_addresses() -> None:
    wire = pipelined_commands("rep+x@bench.test", ["a.b@c.example", "Q <q@x.example>"], ["SIZE=10"])
    assert wire == (
        b"MAIL FROM:<rep+x@bench.test> SIZE=10\r\n"
        b"RCPT TO:<a.b@c.example>\r\n"
        b"RCPT TO:<q@x.example>\r\n"
        b"DATA\r\n"
    )
