"""prepbot: prepares sales meetings held in Salesforce (confirmations, prep notes, no-show follow-ups)."""

__version__ = "0.1.0"
