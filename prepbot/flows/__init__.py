"""Message flows besides confirmations (prep notes, no-show follow-ups), plugged into the service."""
