"""The heuristic spotting reads screenplays it has never seen: CAPS cues, action verbs, headings, directions."""

from foleydesigner.tools.screenplay import parse_screenplay

FOUNTAIN = """Title: Night Shift
Author: test

INT. OLD WAREHOUSE - NIGHT

RAIN drums on the roof. A single bulb buzzes.

MARA
(whispering)
Did you hear that?

Behind them, a DOOR CREAKS open. Mara walks slowly across the wooden floor.

[00:07] A GUNSHOT rings out from the right.

CUT TO:
"""

PLAIN = "A dog barks in the distance while waves roll onto the shore. Two kids run on the gravel path."


def classes(sp):
    return [(c.entry.sound_class, c.entry.layer) for c in sp.cues]


def test_fountain_heading_sets_space_and_time():
    sp = parse_screenplay(FOUNTAIN)
    assert sp.title == "Night Shift"
    assert sp.scene.location == "indoor"
    assert sp.scene.time_of_day == "night"
    assert sp.scene.room_size == "large"  # a warehouse is a big room
    assert "wood" in sp.scene.surfaces


def test_fountain_caps_cues_layers_and_dialogue_skipped():
    sp = parse_screenplay(FOUNTAIN)
    found = classes(sp)
    assert ("rain_heavy", "bg") in found or ("rain_light", "bg") in found
    assert ("door_creak", "fg") in found
    assert ("footsteps", "fg") in found
    assert ("gunshot", "fg") in found
    # "Did you hear that?" is dialogue, and MARA a character cue: neither becomes a sound
    assert all("hear" not in c.sentence for c in sp.cues)
    caps = {c.entry.sound_class: c.caps for c in sp.cues}
    assert caps["door_creak"] and caps["gunshot"] and not caps["footsteps"]


def test_directions_and_timecodes():
    sp = parse_screenplay(FOUNTAIN)
    door = next(c for c in sp.cues if c.entry.sound_class == "door_creak")
    shot = next(c for c in sp.cues if c.entry.sound_class == "gunshot")
    assert door.offscreen and abs(door.azimuth_deg) > 90  # behind the listener
    assert shot.azimuth_deg is not None and shot.azimuth_deg > 0  # from the right
    assert shot.time_s == 7.0
    assert door.position < shot.position


def test_plain_prose_without_headings():
    sp = parse_screenplay(PLAIN)
    found = {c for c, _ in classes(sp)}
    assert {"dog_bark", "waves", "footsteps"} <= found
    dog = next(c for c in sp.cues if c.entry.sound_class == "dog_bark")
    assert dog.offscreen  # "in the distance"
    steps = next(c for c in sp.cues if c.entry.sound_class == "footsteps")
    assert steps.surface == "gravel"
    assert sp.scene.location == "unknown"
