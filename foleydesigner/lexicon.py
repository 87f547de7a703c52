"""The Foley lexicon: words a screenplay or a scene script uses for sounds -> sound class, layer, material, recipe.

Every class names the procedural model that renders it (its generator recipe: a procedural class + parameters),
so a lexicon class the synthesiser has no model of ('sword_clash') still renders ('impact_metal', a long bar).
Layer defaults follow Foley practice: ambiences and beds are background, sounds made by something on screen (or
a cue the story points at) are foreground.

Matching works on word stems, so 'slams', 'slammed' and 'slamming' all find 'slam'. Words written '!word' count
only in CAPS: screenplay convention writes sounds in capitals, and 'fires', 'ring' or 'ball' in lowercase prose
are usually not sounds ('she fires him', 'a wedding ring').
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Layer = Literal["fg", "bg"]


@dataclass(frozen=True)
class LexiconEntry:
    name: str  # the Foley class an event is labelled with
    layer: Layer
    words: tuple[str, ...]
    generator: str  # the procedural class that renders it
    params: dict[str, str | float] = field(default_factory=dict)  # generator parameters of the recipe
    material: str | None = None
    continuous: bool = False  # a span (bed, engine, rain), not a hit
    caps_only: frozenset[str] = frozenset()

    @property
    def sound_class(self) -> str:
        """The generator's class name (what `generation.backends` resolves a label through)."""
        return self.generator


def _e(name: str, layer: Layer, words: str, gen: str = "", material: str | None = None, cont: bool = False,
       **params: str | float) -> LexiconEntry:
    raw = [w.strip() for w in words.split(",") if w.strip()]
    plain = tuple(w.lstrip("!") for w in raw)
    caps = frozenset(w.lstrip("!") for w in raw if w.startswith("!")) - {name.replace("_", " ")}
    # The class name itself always matches ('sword_clash' in an LLM's label or description).
    return LexiconEntry(name, layer, (name.replace("_", " "), *plain), gen or name, dict(params), material, cont, caps)


ENTRIES: tuple[LexiconEntry, ...] = (
    # -- people: steps, cloth, bodies ----------------------------------------------------------------------
    _e("footsteps", "fg", "footstep,footfall,foot steps,steps,walk,strides,paces,treads,marches,shuffles,stomps,"
                          "tiptoes,limps,!step,climbs the stairs,descends the stairs,crosses the room,boots,squelches,"
                          "squelch,crunches through"),
    _e("running_footsteps", "fg", "run,runs,running,jogs,sprints,dashes,races,hurries,rushes,flees,chases,charges",
       "footsteps", rate_hz=2.8),
    _e("heel_steps", "fg", "heels,high heels,clicking heels,stilettos,heel clicks", "footsteps", surface="wood", shoe="hard"),
    _e("cloth_rustle", "fg", "rustle of clothes,cloth rustle,clothes rustle,fabric,coat swishes,jacket rustles,"
                             "rustling clothes,sits down,stands up,shifts in the chair,puts on the coat", material="cotton"),
    _e("leather_rustle", "fg", "leather creaks,leather jacket,leather squeaks,saddle creaks", "cloth_rustle", fabric="leather"),
    _e("punch", "fg", "punch,punches,hits him,hits her,body blow,!blow,!hit,uppercut,jab,pummels,beats him", material="flesh"),
    _e("slap", "fg", "slap,slaps,smacks,backhands", "punch", target="face"),
    _e("kick", "fg", "kick,kicks,stomps on,boots him", "punch", target="body"),
    _e("body_fall", "fg", "falls to the floor,collapses,body falls,hits the ground,slumps,tumbles,crumples to the floor,"
                          "thrown to the ground", "impact_wood", size_m=1.5, striker="soft"),
    _e("bone_crack", "fg", "bone cracks,snaps his neck,crunch,knuckles crack,cracks his knuckles", "impact_wood",
       size_m=0.08, striker="hard"),
    _e("heartbeat", "fg", "heartbeat,heart pounds,pulse,heart beats,heart racing,thumping heart"),
    _e("applause", "bg", "applause,clapping,claps,clap,ovation,audience claps,cheering,cheers erupt"),
    _e("crowd_murmur", "bg", "crowd,murmur,walla,chatter,people talking,voices,crowd murmur,bustle,busy market,"
                             "diners,patrons,onlookers,babble", cont=True),
    _e("laughter", "bg", "laughter,laughs,laughing,giggles,chuckles", "crowd_murmur", people=6.0),
    # -- doors, furniture, handling -----------------------------------------------------------------------
    _e("door_slam", "fg", "door slams,slams the door,door slam,slams shut,slamming door,!slam,bangs the door,door bangs", material="wood"),
    _e("door_open", "fg", "door opens,opens the door,door open,unlocks the door,pushes the door open,enters", material="wood"),
    _e("door_close", "fg", "door closes,closes the door,door close,shuts the door,door shuts,door clicks shut", material="wood"),
    _e("door_knock", "fg", "knock,knocks,knocking,raps on the door,pounds on the door", material="wood"),
    _e("door_creak", "fg", "creak,creaks,creaking,!squeak,hinges,creaky door,door groans", material="wood", cont=True),
    _e("floor_creak", "fg", "floorboards creak,floor creaks,stairs creak,boards groan", "door_creak", material="wood",
       pitch_hz=90.0, speed=0.5),
    _e("chair_scrape", "fg", "chair scrapes,scrapes the chair,drags the chair,pulls out a chair,chair legs scrape",
       "door_creak", material="wood", pitch_hz=220.0, speed=2.0),
    _e("metal_door", "fg", "metal door,steel door,cell door,vault door,iron door,hatch", "door_slam", material="metal",
       door="metal"),
    _e("car_door", "fg", "car door,car door slams,truck door,van door", material="metal"),
    _e("impact_wood", "fg", "thud,thuds,thump,thumps,wooden impact,table bang,bangs on the table,pounds the table,"
                            "drops the box,knocks over", material="wood"),
    _e("box_drop", "fg", "box drops,drops a box,crate falls,suitcase drops,bag drops,drops the bag", "impact_wood",
       material="wood", size_m=0.6, striker="soft"),
    _e("book_drop", "fg", "book drops,drops the book,slams the book shut,book falls,closes the book", "impact_wood",
       material="paper", size_m=0.25, striker="soft"),
    _e("tree_fall", "fg", "tree falls,tree crashes,timber,branch snaps,trunk splits", "impact_wood", material="wood",
       size_m=3.0, striker="hard"),
    _e("impact_metal", "fg", "clang,clangs,clank,clanks,metal impact,metal hit,pipe hits,!clatter", material="metal"),
    _e("sword_clash", "fg", "sword clash,swords clash,blades clash,clash of steel,steel rings,parries,sword fight",
       "impact_metal", material="metal", size_m=0.9, shape="bar"),
    _e("pot_clang", "fg", "pots and pans,pot clangs,pan clangs,frying pan,saucepan,lid rattles", "impact_metal",
       material="metal", size_m=0.3, shape="plate"),
    _e("gate_clang", "fg", "gate clangs,iron gate,metal gate,fence rattles,chain-link", "impact_metal", material="metal",
       size_m=2.0, shape="pipe"),
    _e("car_crash", "fg", "car crash,crashes into,collision,smashes into,wreck,pile-up", "impact_metal", material="metal",
       size_m=3.0, shape="plate"),
    _e("weapon_cock", "fg", "cocks the gun,racks the slide,cocks the hammer,reloads,chambers a round,safety clicks",
       "impact_metal", material="metal", size_m=0.06, shape="bar"),
    _e("cutlery", "fg", "cutlery,silverware,forks,knives,spoons,utensils,dishes,plates clatter,sets the table,eats",
       material="metal"),
    _e("coins", "fg", "coins,coin drops,loose change,!change,jingle,tips the waiter", material="metal"),
    _e("keys_jingle", "fg", "keys jingle,jangle of keys,bunch of keys,keys,keychain", "coins", material="metal",
       diameter_mm=30.0),
    _e("chain_rattle", "fg", "chains rattle,chain rattles,chains,shackles", "coins", material="metal", diameter_mm=45.0),
    _e("paper_rustle", "fg", "papers,pages,page turns,flips through,newspaper,letter,envelope,crumples,!paper,map unfolds",
       material="paper", cont=True),
    _e("plastic_bag", "fg", "plastic bag,shopping bag,bag rustles,wrapper,crinkles,cellophane", "paper_rustle",
       material="plastic", activity=2.0, cont=True),
    _e("foliage", "fg", "leaves rustle,rustling leaves,dry leaves,bushes rustle,undergrowth,through the leaves",
       "paper_rustle", material="leaves", activity=2.5, cont=True),
    _e("keyboard_typing", "fg", "types,typing,keyboard,keystrokes", material="plastic", cont=True),
    _e("typewriter", "fg", "typewriter,hammers the keys", "keyboard_typing", material="metal", keyboard="mechanical",
       rate_hz=5.0, cont=True),
    _e("mouse_click", "fg", "mouse clicks,clicks the mouse,clicks,!click,button click,switch flicks,flicks the switch",
       "keyboard_typing", material="plastic", rate_hz=1.0),
    # -- glass ---------------------------------------------------------------------------------------------
    _e("impact_glass", "fg", "glass thud,sets the glass down,puts down the glass,bottle hits,!tink", material="glass"),
    _e("glass_clink", "fg", "clink,clinks,glasses clink,toast,wine glass,ice cubes,ice clinks", material="glass"),
    _e("glass_shatter", "fg", "shatter,shatters,shattering,glass breaks,breaking glass,!smash,smashes", material="glass"),
    _e("window_break", "fg", "breaks the window,window shatters,window smashes,through the window", "glass_shatter",
       material="glass", size_m=1.2, height_m=1.5),
    _e("bottle_break", "fg", "bottle breaks,smashes the bottle,bottle shatters,broken bottle", "glass_shatter",
       material="glass", size_m=0.2, height_m=1.0),
    _e("crockery_smash", "fg", "plate breaks,dish shatters,plates smash,cup breaks,mug shatters", "glass_shatter",
       material="ceramic", size_m=0.25, height_m=0.9),
    # -- weapons and blasts --------------------------------------------------------------------------------
    _e("gunshot", "fg", "gunshot,gunshots,gun fires,fires a shot,fires the gun,opens fire,shot rings out,pistol shot,gunfire,!shots,!shot,!bang,!gun",
       material="metal"),
    _e("rifle_shot", "fg", "rifle shot,rifle fires,sniper,rifle cracks,carbine", "gunshot", weapon="rifle"),
    _e("shotgun", "fg", "shotgun,shotgun blast,buckshot", "gunshot", weapon="shotgun"),
    _e("explosion", "fg", "explosion,explodes,blast,boom,detonation,grenade,bomb"),
    _e("firework", "fg", "fireworks,firework,firecrackers,rockets burst", "explosion", charge_kg=0.1),
    _e("sword_draw", "fg", "draws the sword,unsheathes,blade sings,sword swings,slashes", "whoosh", material="metal",
       size="small"),
    _e("ball_bounce", "fg", "bounce,bounces,bouncing,dribbles,dribbling,!ball,basketball,tennis ball,ping-pong",
       material="rubber"),
    _e("pop", "fg", "pop,pops,popping,cork pops,toaster pops,balloon pops", "impact_wood", size_m=0.08, striker="hard"),
    _e("whoosh", "fg", "whoosh,swish,swishes,swoosh,swings,throws,hurls,zips past,flies past,whizzes past"),
    # -- vehicles and machines -----------------------------------------------------------------------------
    _e("engine_idle", "fg", "engine idles,idling,engine idle,engine running,motor hums,engine,motor", cont=True),
    _e("engine_start", "fg", "engine starts,starts the engine,starts the car,revs,engine roars to life,ignition",
       "engine_idle", rpm=1800.0, cont=True),
    _e("truck_idle", "fg", "truck idles,diesel engine,lorry idles,bus idles", "engine_idle", vehicle="truck", cont=True),
    _e("engine_passby", "fg", "car passes,drives past,drives by,speeds past,roars past,car,!van,taxi,passing car",
       cont=True),
    _e("truck_passby", "fg", "truck,lorry,bus,truck passes,bus passes,semi", "engine_passby", vehicle="truck",
       rpm=1800.0, cylinders=6, cont=True),
    _e("motorcycle_passby", "fg", "motorcycle,motorbike,scooter,moped,dirt bike", "engine_passby", vehicle="motorcycle",
       rpm=6000.0, cylinders=2, cont=True),
    _e("train_passby", "fg", "train,locomotive,freight train,subway train,tram", "engine_passby", vehicle="truck",
       rpm=900.0, cylinders=12, speed_kmh=70.0, closest_m=15.0, cont=True),
    _e("airplane_flyover", "fg", "airplane,plane flies over,jet,aircraft,plane overhead", "engine_passby", vehicle="truck",
       rpm=4000.0, cylinders=12, speed_kmh=250.0, closest_m=150.0, cont=True),
    _e("helicopter", "fg", "helicopter,chopper,rotor blades,rotors", cont=True),
    _e("tyre_screech", "fg", "screech,screeches,tyres squeal,tires squeal,skid,skids,brakes squeal", cont=True),
    _e("car_horn", "fg", "horn,honks,honk,car horn,beeps the horn,horns blare", cont=True),
    _e("siren", "fg", "siren,sirens,police car,ambulance,fire engine,alarm blares", cont=True),
    _e("car_alarm", "fg", "car alarm,alarm wails", "siren", mode="yelp", low_hz=900.0, high_hz=1800.0, cont=True),
    _e("electric_hum", "bg", "hum of the lights,fluorescent,buzzes,buzzing,bulb buzzes,neon sign,transformer,generator hums,"
                             "!hum", cont=True),
    _e("fridge_hum", "bg", "fridge,refrigerator,freezer,vending machine", "electric_hum", buzz=0.05, cont=True),
    _e("clock_tick", "fg", "clock,ticking,tick,tock,grandfather clock,wristwatch", cont=True),
    _e("countdown_tick", "fg", "timer beeps,timer ticks,countdown,bomb timer", "clock_tick", rate_hz=2.0, cont=True),
    _e("phone_ring", "fg", "phone rings,phone ringing,telephone rings,telephone,ringtone,!ringing,!rings,!ring,!phone", cont=True),
    _e("phone_buzz", "fg", "cell phone,mobile phone,phone buzzes,phone vibrates,text message,notification", "phone_ring",
       style="digital", cont=True),
    _e("doorbell", "fg", "doorbell,rings the bell,door bell,buzzer", "bell", pitch_hz=660.0, interval_s=0.6),
    _e("bell", "fg", "bell,bells,chime,chimes,toll,tolls,church bell"),
    _e("kettle_whistle", "fg", "kettle whistles,kettle,teakettle,whistling kettle,steam whistle", "siren", mode="wail",
       low_hz=1600.0, high_hz=2400.0, cont=True),
    _e("referee_whistle", "fg", "whistle blows,blows a whistle,referee whistle,police whistle,!whistle", "siren", mode="yelp",
       low_hz=2000.0, high_hz=2600.0, cont=True),
    _e("chimes", "bg", "wind chimes,chimes tinkle", "bell", pitch_hz=1400.0, interval_s=0.8),
    # -- weather and water ---------------------------------------------------------------------------------
    _e("rain_light", "bg", "drizzle,light rain,rain,raining,rainfall,sprinkle", cont=True),
    _e("rain_heavy", "bg", "downpour,heavy rain,pouring rain,storm,rainstorm,torrential,monsoon", cont=True),
    _e("rain_on_window", "bg", "rain on the window,rain against the glass,rain taps,rain streaks the window", cont=True),
    _e("rain_on_roof", "bg", "rain on the roof,drums on the roof,tin roof,rain drums,rain hammers the roof", cont=True),
    _e("hail", "bg", "hail,hailstones,sleet", "rain_on_roof", roof="metal", drops_hz=4000.0, cont=True),
    _e("wind", "bg", "wind,breeze,gust,gusts,windy,howling wind,gale,blizzard", cont=True),
    _e("thunder", "bg", "thunder,thunderclap,rumble of thunder,lightning"),
    _e("fire_crackle", "fg", "!fire,fireplace,crackle,crackles,crackling,campfire,flames,bonfire,hearth,burning,fire burns,fire crackles,the fire", cont=True),
    _e("frying_sizzle", "fg", "sizzle,sizzles,sizzling,frying,fries,bacon,grill", "rain_light", drops_hz=2500.0, cont=True),
    _e("water_splash", "fg", "splash,splashes,splashing,jumps into the water,dives,plunges,falls into the water"),
    _e("swimming", "fg", "swims,swimming,paddles,wades,strokes through the water", "water_splash", size="small"),
    _e("water_stream", "bg", "stream,brook,river,creek,running water,tap runs,faucet", cont=True),
    _e("liquid_pour", "fg", "pours wine,pours coffee,pours tea,pours a drink,pours the wine,pours water,pouring wine,pouring water,fills the glass",
       "water_stream", flow=0.2, cont=True),
    _e("waterfall", "bg", "waterfall,rapids,cascade,torrent", "water_stream", flow=1.0, cont=True),
    _e("shower", "fg", "shower runs,in the shower,showers,bathtub fills", "water_stream", flow=0.7, cont=True),
    _e("waves", "bg", "waves,surf,ocean,sea,shore,beach,tide,breakers", cont=True),
    _e("water_drips", "fg", "drip,drips,dripping,leak,leaking", cont=True),
    # -- nature and animals --------------------------------------------------------------------------------
    _e("birds", "bg", "birds,birdsong,chirp,chirping,tweet,songbirds,dawn chorus", cont=True),
    _e("seagulls", "bg", "seagulls,gulls,cry of the gulls", "birds", songs_per_s=0.4, cont=True),
    _e("owl", "bg", "owl,owl hoots,hoot", "birds", songs_per_s=0.1, cont=True),
    _e("crickets", "bg", "crickets,cicadas,insects,night sounds,frogs croak", cont=True),
    _e("dog_bark", "fg", "dog barks,barks,bark,barking,dog,woof,yelps,hound"),
    _e("dog_growl", "fg", "growls,growling,snarls,guard dog", "dog_bark", size="large"),
    _e("horse_hooves", "fg", "hooves,horse,gallops,galloping,trots,trotting,hoofbeats,rides up"),
    # -- spaces --------------------------------------------------------------------------------------------
    _e("room_tone", "bg", "room tone,silence,quiet room,hum of the room,air conditioning,hvac,ventilation", cont=True),
    _e("air_conditioner", "bg", "air conditioner,ac unit,fan whirs,ceiling fan,fan hums,air vent", "room_tone", hvac=1.0,
       cont=True),
    _e("traffic", "bg", "traffic,distant traffic,city noise,street noise,cars in the distance,rush hour", cont=True),
    # the road roar heard from inside a moving car: traffic's rumble with no car passing
    _e("car_interior", "bg", "car interior,inside the car,in the car,back seat,driver's seat,road noise", "traffic",
       cars_per_min=0.0, cont=True),
)

#: Place words of a scene heading or description -> the beds a sound editor lays for that place (INT./EXT.
#: and DAY/NIGHT choose among them). Checked in order; the first matching place wins.
PLACE_AMBIENCE: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("beach", "shore", "harbor", "harbour", "pier", "dock", "coast", "boat", "ship", "deck"), ("waves", "seagulls", "wind")),
    (("forest", "woods", "jungle", "park", "garden", "meadow", "field", "farm", "countryside", "lawn", "campus"), ("birds", "wind")),
    (("river", "creek", "stream", "waterfall", "lake"), ("water_stream", "birds")),
    (("street", "city", "road", "avenue", "downtown", "alley", "highway", "parking", "crossing", "square", "station"),
     ("traffic", "wind")),
    (("restaurant", "cafe", "diner", "bar", "pub", "market", "mall", "lobby", "canteen", "cafeteria", "party"),
     ("crowd_murmur", "room_tone")),
    (("kitchen",), ("fridge_hum", "room_tone")),
    (("office", "lab", "laboratory", "server room", "hospital", "corridor", "hallway"), ("air_conditioner", "room_tone")),
    (("warehouse", "factory", "garage", "basement", "cellar", "hangar", "workshop"), ("electric_hum", "room_tone")),
    (("desert", "mountain", "cliff", "rooftop", "roof", "tundra"), ("wind",)),
    (("car", "taxi", "cab", "vehicle interior", "truck cab", "van"), ("car_interior",)),
)


def _stem(word: str) -> str:
    """A crude, consistent English stem: both the lexicon and the text go through it, so only consistency matters."""
    w = word.lower().replace("'s", "").replace("'", "")
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing") or len(w) > 4 and w.endswith("ed"):
        w = w[:-3] if w.endswith("ing") else w[:-2]
        if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]  # slamm(ed) -> slam, but roll(ing), hiss(ing), buzz(ing) keep theirs
    elif len(w) > 4 and w.endswith("es") and w[-3] in "sxzh":
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*")


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(_stem(t) for t in _TOKEN.findall(phrase))


_INDEX: dict[tuple[str, ...], tuple[LexiconEntry, bool]] = {}
for _entry in ENTRIES:
    for _w in _entry.words:
        _INDEX.setdefault(_key(_w), (_entry, _w in _entry.caps_only))
_MAX_WORDS = max(len(k) for k in _INDEX)
BY_NAME: dict[str, LexiconEntry] = {e.name: e for e in ENTRIES}


def lookup(phrase: str) -> LexiconEntry | None:
    """The entry for a class name or an exact phrase (case- and inflection-tolerant), or None."""
    if phrase in BY_NAME:
        return BY_NAME[phrase]
    hit = _INDEX.get(_key(phrase))
    return hit[0] if hit else None


def find_sounds(text: str) -> list[tuple[int, str, LexiconEntry]]:
    """Every non-overlapping lexicon phrase in text, longest match first: (char offset, matched text, entry).

    A caps-only word counts only when the text writes it in capitals."""
    tokens = list(_TOKEN.finditer(text))
    keys = [_stem(t.group(0)) for t in tokens]
    out: list[tuple[int, str, LexiconEntry]] = []
    i = 0
    while i < len(tokens):
        for size in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
            hit = _INDEX.get(tuple(keys[i:i + size]))
            if hit is None:
                continue
            entry, caps_only = hit
            a, b = tokens[i].start(), tokens[i + size - 1].end()
            if caps_only and not is_caps(text[a:b]):
                continue
            out.append((a, text[a:b], entry))
            i += size
            break
        else:
            i += 1
    return out


def is_caps(text: str) -> bool:
    """Written in capitals the way screenplays mark sounds (at least two letters, none lowercase)."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def ambience_for_place(place: str) -> tuple[str, ...]:
    """The beds a place calls for ('EXT. BEACH' -> waves, seagulls, wind); () when the place is not known."""
    words = set(_key(place))
    for places, beds in PLACE_AMBIENCE:
        if any(set(_key(p)) <= words for p in places):
            return beds
    return ()


SURFACES = ("concrete", "wooden", "floorboards", "wood", "gravel", "grass", "snow", "metal", "tile", "carpet", "sand",
            "mud", "pavement", "asphalt", "marble", "stone", "cobblestones", "dirt", "parquet", "steel", "ice")
_SURFACE_ALIASES = {"wooden": "wood", "floorboards": "wood", "parquet": "wood", "pavement": "concrete",
                    "asphalt": "concrete", "tile": "concrete", "marble": "concrete", "stone": "concrete",
                    "cobblestones": "concrete", "carpet": "wood", "sand": "gravel", "dirt": "gravel", "mud": "grass",
                    "steel": "metal", "ice": "snow"}


def find_surface(text: str) -> str | None:
    """The first walking surface a text names, mapped to the footstep model's surfaces."""
    m = re.search(r"\b(" + "|".join(SURFACES) + r")\b", text, re.IGNORECASE)
    if not m:
        return None
    word = m.group(1).lower()
    return _SURFACE_ALIASES.get(word, word)
