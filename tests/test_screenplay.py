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
    return [(c.entry.name, c.entry.layer) for c in sp.cues]


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
    assert ("rain_on_roof", "bg") in found  # "RAIN drums on the roof"
    assert ("door_creak", "fg") in found
    assert ("footsteps", "fg") in found
    assert ("gunshot", "fg") in found
    # "Did you hear that?" is dialogue, and MARA a character cue: neither becomes a sound
    assert all("hear" not in c.sentence for c in sp.cues)
    caps = {c.entry.name: c.caps for c in sp.cues}
    assert caps["door_creak"] and caps["gunshot"] and not caps["footsteps"]


def test_directions_and_timecodes():
    sp = parse_screenplay(FOUNTAIN)
    door = next(c for c in sp.cues if c.entry.name == "door_creak")
    shot = next(c for c in sp.cues if c.entry.name == "gunshot")
    # "Behind them" is behind the characters, further into the scene on their side, not behind the listener
    assert door.relative == "behind" and door.azimuth_deg is None and not door.offscreen
    assert shot.azimuth_deg is not None and shot.azimuth_deg > 0  # from the right
    assert shot.time_s == 7.0
    assert door.position < shot.position


def test_plain_prose_without_headings():
    sp = parse_screenplay(PLAIN)
    found = {c for c, _ in classes(sp)}
    assert {"dog_bark", "waves", "running_footsteps"} <= found  # kids run
    dog = next(c for c in sp.cues if c.entry.name == "dog_bark")
    assert dog.offscreen  # "in the distance"
    steps = next(c for c in sp.cues if c.entry.name == "running_footsteps")
    assert steps.surface == "gravel"
    assert sp.scene.location == "outdoor"  # no heading: "shore" and "path" are read as outdoors


# --- spotting screenplays of different genres: expected (class alternatives, layer) per snippet -------------------

SNIPPETS = {
    "western": ("""EXT. DUSTY MAIN STREET - DAY

Wind whips dust across the empty street. A HORSE trots past the saloon.

The saloon doors creak. Jake steps out, spurs JINGLING.

Somewhere a CHURCH BELL tolls. Jake draws. A GUNSHOT cracks.
""", [("wind", "bg"), ("horse_hooves", "fg"), ("door_creak", "fg"), ("footsteps", "fg"),
      ("coins|keys_jingle|chain_rattle", "fg"), ("bell", "fg"), ("gunshot", "fg")]),
    "horror": ("""INT. OLD FARMHOUSE - NIGHT

Rain lashes the windows. Thunder rumbles in the distance.

Sarah climbs the stairs. The floorboards creak under her feet.

A CLOCK ticks. Then a door SLAMS upstairs.

SARAH
(whispering)
Hello?

She freezes. Her heart pounds.
""", [("rain_light|rain_heavy|rain_on_window", "bg"), ("thunder", "bg"), ("footsteps", "fg"),
      ("floor_creak|door_creak", "fg"), ("clock_tick", "fg"), ("door_slam", "fg"), ("heartbeat", "fg")]),
    "thriller (plain)": ("Night. Rain pours on the city. Sirens wail in the distance as a motorcycle roars down the alley. "
                         "Tires screech. The rider shoves open a metal door and sprints up the stairs, gunfire erupting "
                         "behind him. Glass shatters.",
                         [("rain_light|rain_heavy", "bg"), ("siren", "fg"), ("motorcycle_passby", "fg"), ("tyre_screech", "fg"),
                          ("metal_door|door_open|door_slam", "fg"), ("running_footsteps|footsteps", "fg"), ("gunshot", "fg"),
                          ("glass_shatter", "fg")]),
    "kitchen comedy": ("""INT. SMALL KITCHEN - MORNING

A kettle whistles. Bacon SIZZLES in the pan.

DAD
Who wants pancakes?

Mom sets the mug down with a THUD. The toaster POPS. A dog barks at the back door.
""", [("kettle_whistle", "fg"), ("frying_sizzle", "fg"), ("impact_wood|impact_glass", "fg"), ("pop", "fg"),
      ("dog_bark", "fg"), ("room_tone|fridge_hum", "bg")]),
    "beach (plain)": ("At dawn, waves roll onto the beach. Seagulls cry overhead. The wind picks up. "
                      "A child splashes in the surf.",
                      [("waves", "bg"), ("seagulls|birds", "bg"), ("wind", "bg"), ("water_splash|swimming", "fg")]),
    "server room sci-fi": ("""INT. SERVER ROOM - NIGHT

Fans hum. Red lights blink.

ENGINEER (O.S.)
Is anyone there?

Lin types furiously at the keyboard. A phone RINGS. She answers, then the ALARM blares.
""", [("air_conditioner|room_tone", "bg"), ("keyboard_typing", "fg"), ("phone_ring", "fg"), ("siren|car_alarm", "fg")]),
    "war": ("""EXT. TRENCH - DUSK

Artillery THUNDERS in the distance. Mud squelches under the soldiers' boots.

A whistle blows. Men climb over the top and charge. MACHINE GUN fire rattles from the ridge.

An explosion throws earth into the air. Somebody screams.
""", [("explosion|thunder", "fg"), ("footsteps", "fg"), ("referee_whistle", "fg"), ("running_footsteps|footsteps", "fg"),
      ("gunshot", "fg"), ("explosion", "fg")]),
    "romance (plain)": ("Candles flicker in the quiet restaurant. Cutlery clinks softly as a waiter pours wine. "
                        "Outside, rain taps against the window. She laughs and their glasses clink.",
                        [("crowd_murmur|room_tone", "bg"), ("cutlery", "fg"), ("liquid_pour", "fg"), ("rain_on_window|rain_light", "bg"),
                         ("laughter|crowd_murmur", "bg"), ("glass_clink", "fg")]),
}


def _spot(text: str) -> set[tuple[str, str]]:
    from foleydesigner.agents.filmscribe import heuristic_scribe
    from foleydesigner.agents.script_writer import heuristic_write
    from tests.helpers import video_info

    v = video_info(duration_s=10.0)
    script = heuristic_write(v, heuristic_scribe(v, [], text, None), [], text)
    return {(e.label, e.layer) for e in script.events}


def _score(found: set[tuple[str, str]], expected: list[tuple[str, str]]) -> tuple[int, int, int]:
    ok = {f for f in found if any(f[0] in alt.split("|") and f[1] == layer for alt, layer in expected)}
    hit = [x for x in expected if any(f[0] in x[0].split("|") and f[1] == x[1] for f in found)]
    return len(ok), len(hit), len(found)


def test_spotting_precision_and_recall_across_genres():
    correct = hits = found_n = expected_n = 0
    per = {}
    for name, (text, expected) in SNIPPETS.items():
        ok, hit, n = _score(_spot(text), expected)
        per[name] = (ok, n, hit, len(expected))
        correct, hits, found_n, expected_n = correct + ok, hits + hit, found_n + n, expected_n + len(expected)
    precision, recall = correct / found_n, hits / expected_n
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, per)
    for name, (_ok, _n, hit, m) in per.items():
        assert hit / m >= 0.8, (name, per[name])  # no genre is left behind


def test_one_sound_per_sentence_and_layers():
    sp = parse_screenplay(SNIPPETS["western"][0])
    assert [c.entry.name for c in sp.cues].count("horse_hooves") == 1  # "A HORSE trots": one horse
    assert sp.scene.location == "outdoor" and sp.scene.time_of_day == "day"
    beach = parse_screenplay(SNIPPETS["beach (plain)"][0])
    assert beach.scene.time_of_day == "dawn" and beach.scene.location == "outdoor"
    horror = parse_screenplay(SNIPPETS["horror"][0])
    assert horror.scene.mood == "tense" and all(c.entry.layer == "bg" for c in horror.cues if c.entry.name == "thunder")


def test_caps_only_words_and_inflections():
    from foleydesigner.lexicon import find_sounds

    assert not find_sounds("She fires him and takes a shot at the title.")  # lowercase: not sounds
    names = [e.name for _, _, e in find_sounds("A shot. Then a SHOT. The door slammed; slamming doors.")]
    assert names == ["gunshot", "door_slam", "door_slam"]


def test_lexicon_classes_all_render_through_their_recipe():
    from foleydesigner.generation.backends import ProceduralGenerator
    from foleydesigner.generation.procedural import MODELS, _merge_params
    from foleydesigner.lexicon import ENTRIES

    gen = ProceduralGenerator()
    assert len(ENTRIES) >= 80 and len({e.name for e in ENTRIES}) == len(ENTRIES)
    assert {m for m in MODELS} <= {e.name for e in ENTRIES}  # every procedural class has its lexicon entry
    for e in ENTRIES:
        assert gen.sound_class(e.name, "") == e.generator, e.name  # a label resolves to its recipe
        _merge_params(MODELS[e.generator], e.params)  # recipe parameters are valid for the generator


def test_scene_heading_places_lay_ambience():
    sp = parse_screenplay("EXT. HARBOUR - NIGHT\n\nA rope creaks.")
    assert sp.ambience[0] == "waves"
    from foleydesigner.agents.script_writer import place_beds

    assert "seagulls" not in place_beds(sp.ambience, sp.scene)  # no gulls at night
