"""The grounding re-ask (agents/grounding.py): an answer that contradicts measured facts goes back once, with them."""

REASK = """Your {schema} contradicts what was measured in this clip and its screenplay:
{violations}
These facts are measured, not opinions; they hold whatever the picture or the story suggests to you:
{facts}
Correct the points above and answer again with a complete {schema} (keep what was right)."""
