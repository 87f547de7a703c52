"""Universal Category System (UCS) file names: `CatID_FXName_CreatorID_SourceID.ext`.

UCS (v8) names a sound by a category ID made of a category abbreviation and a subcategory abbreviation
(`DOORWood` = DOORS / WOOD), then a short description, the recordist's or library's ID and the source (project or
library) ID; an optional `-UserCategory` may follow the CatID (`DOORWood-Barn_…`). The CatIDs below are the part
of the UCS category list Foley work touches most; an unknown CatID of the right shape still parses, its category
and subcategory read from its capitalisation (`ZAPPElec` → ZAPP / Elec).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: CatID → (category, subcategory, extra search words). Category and subcategory are the UCS names.
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "AIRBrst": ("AIR", "BURST", "air burst puff"),
    "AMBCafe": ("AMBIENCE", "CAFE", "restaurant walla crowd room"),
    "AMBForst": ("AMBIENCE", "FOREST", "woods birds trees"),
    "AMBHosp": ("AMBIENCE", "HOSPITAL", "room"),
    "AMBInt": ("AMBIENCE", "INTERIOR", "room tone interior"),
    "AMBPark": ("AMBIENCE", "PARK", "birds people"),
    "AMBRoom": ("AMBIENCE", "ROOM TONE", "room tone air"),
    "AMBRurl": ("AMBIENCE", "RURAL", "countryside field"),
    "AMBTraf": ("AMBIENCE", "TRAFFIC", "traffic street cars road"),
    "AMBUrbn": ("AMBIENCE", "URBAN", "city street traffic"),
    "ANMLCat": ("ANIMALS", "CAT", "meow cat"),
    "ANMLDog": ("ANIMALS", "DOG", "dog bark woof"),
    "ANMLHors": ("ANIMALS", "HORSE", "horse hooves gallop neigh"),
    "ANMLInsc": ("ANIMALS", "INSECT", "insects crickets buzz"),
    "BELLHand": ("BELLS", "HANDBELL", "bell ring"),
    "BIRDSong": ("BIRDS", "SONGBIRD", "birdsong chirp tweet"),
    "BIRDCrow": ("BIRDS", "CROW", "caw"),
    "CERMBreak": ("CERAMICS", "BREAK", "ceramic smash plate"),
    "CLOCKTick": ("CLOCKS", "TICK", "clock tick tock"),
    "CLOTHMvmt": ("CLOTH", "MOVEMENT", "cloth rustle fabric"),
    "CROWDWalla": ("CROWDS", "WALLA", "crowd murmur chatter"),
    "CROWDCheer": ("CROWDS", "CHEERING", "cheer applause"),
    "DOORWood": ("DOORS", "WOOD", "door open close slam"),
    "DOORMetl": ("DOORS", "METAL", "door clang"),
    "DOORGlas": ("DOORS", "GLASS", "glass door"),
    "DOORCreak": ("DOORS", "CREAK", "door creak squeak hinge"),
    "DOORKnck": ("DOORS", "KNOCK", "knock door"),
    "ELECHum": ("ELECTRICITY", "HUM", "mains hum buzz"),
    "ENGNIdle": ("ENGINES", "IDLE", "engine idle motor"),
    "EXPLReal": ("EXPLOSIONS", "REAL", "explosion blast boom"),
    "FIREBurn": ("FIRE", "BURNING", "fire crackle flames"),
    "FIREWork": ("FIREWORKS", "GENERAL", "fireworks bang"),
    "FOLYProp": ("FOLEY", "PROP", "handling prop"),
    "FOLYFeet": ("FOLEY", "FEET", "footsteps steps walk"),
    "FEETWood": ("FOOTSTEPS", "WOOD", "footsteps wood floor"),
    "FEETCnst": ("FOOTSTEPS", "CONCRETE", "footsteps concrete pavement"),
    "FEETGrvl": ("FOOTSTEPS", "GRAVEL", "footsteps gravel"),
    "FEETGras": ("FOOTSTEPS", "GRASS", "footsteps grass"),
    "GLASBreak": ("GLASS", "BREAK", "glass shatter smash"),
    "GLASImpt": ("GLASS", "IMPACT", "glass clink tap"),
    "GUNPis": ("GUNS", "PISTOL", "gunshot pistol shot"),
    "GUNRif": ("GUNS", "RIFLE", "gunshot rifle"),
    "HITSPnch": ("HITS", "PUNCH", "punch hit body"),
    "HORNCar": ("HORNS", "CAR", "car horn honk"),
    "HUMNScrm": ("HUMAN", "SCREAM", "scream yell"),
    "IMPTBall": ("IMPACTS", "BALL", "ball bounce"),
    "METLImpt": ("METAL", "IMPACT", "metal clang hit"),
    "PAPRHndl": ("PAPER", "HANDLE", "paper rustle"),
    "RAINGen": ("RAIN", "GENERAL", "rain"),
    "ROCKImpt": ("ROCKS", "IMPACT", "stone rock hit"),
    "SIRNEmrg": ("SIRENS", "EMERGENCY", "siren police ambulance"),
    "TELPhone": ("TELEPHONES", "RING", "phone ring"),
    "THUNCrak": ("THUNDER", "CRACK", "thunder storm"),
    "VEHCar": ("VEHICLES", "CAR", "car drive pass by engine"),
    "VEHSkid": ("VEHICLES", "SKID", "tyre screech skid tire squeal"),
    "WATRFlow": ("WATER", "FLOW", "stream river flowing water brook"),
    "WATRSplsh": ("WATER", "SPLASH", "splash water"),
    "WATRDrip": ("WATER", "DRIP", "drip drops"),
    "WATRFall": ("WATER", "WATERFALL", "waterfall cascade"),
    "WHSHAir": ("WHOOSHES", "AIR", "whoosh swish swing"),
    "WINDGen": ("WIND", "GENERAL", "wind gust howl"),
    "WOODImpt": ("WOOD", "IMPACT", "wood knock hit"),
    "WOODCreak": ("WOOD", "CREAK", "wood creak bridge planks"),
}

#: The categories whose sounds are steady textures (looped as beds), whatever their length.
TEXTURE_CATEGORIES = frozenset({"AMBIENCE", "RAIN", "WIND", "FIRE", "ELECTRICITY", "CROWDS"})

_CATID = re.compile(r"^(?P<cat>[A-Z]{2,6})(?P<sub>[A-Z][a-z0-9]+)$")


@dataclass(frozen=True)
class UCSName:
    cat_id: str
    category: str
    subcategory: str
    fx_name: str
    creator_id: str = ""
    source_id: str = ""
    user_category: str = ""

    @property
    def words(self) -> str:
        """What a text search sees of the name: category, subcategory, the CatID's words and the FX name."""
        extra = CATEGORIES.get(self.cat_id, ("", "", ""))[2]
        return " ".join(w for w in (self.category, self.subcategory, self.user_category, extra, self.fx_name) if w)


def parse_ucs(stem: str) -> UCSName | None:
    """A UCS name from a file stem, or None when the stem does not start with a CatID (a plain name)."""
    parts = stem.split("_")
    if len(parts) < 2:
        return None
    cat_id, _, user = parts[0].partition("-")
    if cat_id in CATEGORIES:
        category, sub, _ = CATEGORIES[cat_id]
    else:
        m = _CATID.match(cat_id)
        if m is None:
            return None
        category, sub = m["cat"], m["sub"].upper()
    fx = parts[1]
    creator = parts[2] if len(parts) > 2 else ""
    source = "_".join(parts[3:]) if len(parts) > 3 else ""
    return UCSName(cat_id, category, sub, _spaced(fx), creator, source, _spaced(user))


def _spaced(text: str) -> str:
    """'Door Creak Slow', 'DoorCreakSlow' and 'door-creak-slow' all read 'door creak slow'."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return re.sub(r"[-\s]+", " ", text).strip().lower()
