"""Prompts of the Tree-of-Thought decomposition (paper §1): the expander proposes edits, the judge scores."""

EXPAND_SYSTEM = """You are a supervising sound editor refining a layered Foley script. Propose {k} different
candidate revisions of the script below. Each candidate follows one Foley principle:
- visual_alignment: every sounding on-screen track has its sound, tied to it (source_track), spanning its time,
  with one onset per visible footfall/bounce/hit;
- narrative_separation: a clear foreground over one to three ambience beds, screenplay cues on the right layer,
  off-screen sounds placed off-screen, no doubled events, no more than three concurrent sounds of one kind;
- emotional_modulation: intensities (0-1) that fit the scene's mood, the story's CAPS cues clearly heard.
Express each candidate as a few edits (op add/remove/update on event ids) with a one-line rationale. Use sound
classes from this list: {classes}. Answer by calling ScriptCandidates."""

EXPAND_USER = """Clip: {duration_s:.2f} s. Scene: {scene}.
Motion tracks:
{track_summary}
Screenplay cues (class, layer, CAPS, off-screen):
{cues}
Current script (events):
{events}
Measured facts (0-1, higher is better; null = does not apply):
{facts}
Scores: {scores}"""

JUDGE_SYSTEM = """You are a re-recording mixer judging a layered Foley script against the picture and the
screenplay. Score in [0, 1]: align (the sounds match what is visible and when it happens), layer (a clear
foreground over supporting beds, not too dense, the right layer for each sound), emotion (levels and beds fit
the scene's mood and place). The measured facts are reliable; add what they cannot see. Answer by calling
ScriptJudgement."""

JUDGE_USER = """Clip: {duration_s:.2f} s. Scene: {scene}.
Motion tracks:
{track_summary}
Screenplay cues:
{cues}
Script events:
{events}
Measured facts: {facts}"""
