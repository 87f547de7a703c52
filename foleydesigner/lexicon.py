"""The Foley lexicon: words a screenplay or a scene script uses for sounds -> sound class, layer and recipe.

The class names are the procedural library's; other generators read the label and description instead.
Layer defaults follow Foley practice: ambiences and beds are background, sounds made by something on screen
(or a cue the story points at) are foreground.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class LexiconEntry:
    sound_class: str
    layer: Literal["fg", "bg"]
    words: tuple[str, ...]
    params: dict[str, str | float] = field(default_factory=dict)
    continuous: bool = False


def _e(cls: str, layer: Literal["fg", "bg"], words: str, continuous: bool = False, **params: str | float) -> LexiconEntry:
    return LexiconEntry(cls, layer, tuple(w.strip() for w in words.split(",")), dict(params), continuous)


# Longer phrases first within an entry do not matter: matching prefers the longest phrase across all entries.
ENTRIES: tuple[LexiconEntry, ...] = (
    _e("footsteps", "fg", "footsteps,footstep,footfalls,footfall,steps,walks,walking,walk,strides,paces,pacing,treads,tread,marches,shuffles,run,runs,running,jogs,jogging,hurries"),
    _e("footsteps", "fg", "heels,high heels,clicking heels", surface="wood"),
    _e("cloth_rustle", "fg", "rustle of clothes,cloth rustle,clothes rustle,fabric,coat swishes,jacket rustles"),
    _e("door_slam", "fg", "car door slams,car door,door slams,slams the door,door slam,slams,slam,bangs the door"),
    _e("door_open", "fg", "door opens,opens the door,door open,unlocks the door"),
    _e("door_close", "fg", "door closes,closes the door,door close,shuts the door,door shuts"),
    _e("door_knock", "fg", "knock,knocks,knocking,raps on the door"),
    _e("door_creak", "fg", "creak,creaks,creaking,squeak,squeaks,hinges"),
    _e("impact_wood", "fg", "thud,thuds,thump,thumps,wooden impact,drops the box,table bang"),
    _e("impact_metal", "fg", "clang,clangs,clank,clanks,metal impact,clatter,clatters"),
    _e("impact_glass", "fg", "clink,clinks,glass clink,tink"),
    _e("punch", "fg", "punch,punches,hits him,hits her,blow,blows,slap,slaps,kick,kicks"),
    _e("ball_bounce", "fg", "bounce,bounces,bouncing,dribbles,dribbling,ball"),
    _e("glass_shatter", "fg", "shatter,shatters,shattering,smash,smashes,breaks the window,glass breaks"),
    _e("gunshot", "fg", "gunshot,gunshots,gun fires,shot rings out,shots,fires,bang"),
    _e("explosion", "fg", "explosion,explodes,blast,boom,detonation"),
    _e("engine_idle", "fg", "engine idles,idling,engine idle,engine running,motor hums,engine"),
    _e("engine_passby", "fg", "car passes,drives past,drives by,car,truck,van,bus,motorbike,motorcycle,speeds past,roars past"),
    _e("tyre_screech", "fg", "screech,screeches,tyres squeal,tires squeal,skid,skids"),
    _e("rain_light", "bg", "drizzle,light rain,rain,raining,rainfall", continuous=True),
    _e("rain_heavy", "bg", "downpour,heavy rain,pouring,storm,rainstorm", continuous=True),
    _e("rain_on_window", "bg", "rain on the window,rain against the glass,rain taps", continuous=True),
    _e("wind", "bg", "wind,breeze,gust,gusts,windy,howling wind", continuous=True),
    _e("thunder", "bg", "thunder,thunderclap,rumble of thunder"),
    _e("fire_crackle", "fg", "fire,fireplace,crackle,crackles,crackling,campfire,flames", continuous=True),
    _e("water_splash", "fg", "splash,splashes,splashing,jumps into the water,dives"),
    _e("water_stream", "bg", "stream,brook,river,creek,running water,tap runs,faucet", continuous=True),
    _e("waves", "bg", "waves,surf,ocean,sea,shore,beach", continuous=True),
    _e("water_drips", "fg", "drip,drips,dripping,leak", continuous=True),
    _e("birds", "bg", "birds,birdsong,chirp,chirping,tweet,songbirds", continuous=True),
    _e("crickets", "bg", "crickets,cicadas,insects,night sounds", continuous=True),
    _e("crowd_murmur", "bg", "crowd,murmur,walla,chatter,people talking,voices,crowd murmur,bustle", continuous=True),
    _e("room_tone", "bg", "room tone,silence,quiet room,hum of the room,air conditioning,hvac", continuous=True),
    _e("traffic", "bg", "traffic,distant traffic,city noise,street noise,cars in the distance", continuous=True),
    _e("keyboard_typing", "fg", "types,typing,keyboard,keystrokes", continuous=True),
    _e("clock_tick", "fg", "clock,ticking,tick,tock", continuous=True),
    _e("phone_ring", "fg", "phone rings,ringing,rings,telephone,ringtone"),
    _e("whoosh", "fg", "whoosh,swish,swishes,swoosh,swings,throws,zips past,flies past"),
    _e("paper_rustle", "fg", "paper,papers,pages,flips through,newspaper,letter,envelope"),
    _e("horse_hooves", "fg", "hooves,horse,gallops,galloping,trots,trotting"),
    _e("bell", "fg", "bell,bells,chime,chimes,toll,tolls"),
    _e("heartbeat", "fg", "heartbeat,heart pounds,pulse,heart beats"),
    _e("dog_bark", "fg", "dog barks,barks,bark,barking,dog,woof"),
)

_INDEX: dict[str, LexiconEntry] = {}
for _entry in ENTRIES:
    for _w in _entry.words:
        _INDEX.setdefault(_w.lower(), _entry)
_PHRASES = sorted(_INDEX, key=len, reverse=True)
_PATTERN = re.compile(r"\b(" + "|".join(re.escape(p) for p in _PHRASES) + r")\b", re.IGNORECASE)


def lookup(phrase: str) -> LexiconEntry | None:
    """The entry for an exact phrase (case-insensitive), or None."""
    return _INDEX.get(phrase.strip().lower())


def find_sounds(text: str) -> list[tuple[int, str, LexiconEntry]]:
    """Every non-overlapping lexicon phrase in text, longest match first: (char offset, matched text, entry)."""
    return [(m.start(), m.group(0), _INDEX[m.group(0).lower()]) for m in _PATTERN.finditer(text)]


SURFACES = ("concrete", "wooden", "floorboards", "wood", "gravel", "grass", "snow", "metal", "tile", "carpet", "sand", "mud", "pavement", "asphalt", "marble", "stone")
_SURFACE_ALIASES = {"wooden": "wood", "floorboards": "wood", "pavement": "concrete", "asphalt": "concrete", "tile": "concrete", "marble": "concrete", "stone": "concrete",
                    "carpet": "wood", "sand": "gravel", "mud": "grass"}


def find_surface(text: str) -> str | None:
    """The first walking surface a text names, mapped to the footstep model's surfaces."""
    m = re.search(r"\b(" + "|".join(SURFACES) + r")\b", text, re.IGNORECASE)
    if not m:
        return None
    word = m.group(1).lower()
    return _SURFACE_ALIASES.get(word, word)
