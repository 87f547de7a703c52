"""Build the bundled demo sound library (foleydesigner/data/library/) from CC0 / public-domain files in Debian's
supertuxkart-data and minetest-data packages, with UCS names and a LICENSES file.

    apt-get download supertuxkart-data minetest-data
    for d in supertuxkart-data minetest-data; do mkdir -p x/$d && dpkg-deb -x ${d}_*.deb x/$d; done
    python scripts/make_demo_library.py x

Each file is read from the package, mixed to mono, resampled to 48 kHz, trimmed to MAX_S and written as Ogg
Vorbis under its UCS name (CatID_FXName_CreatorID_SourceID). Only files whose stanza in the package's
debian/copyright says CC0 or public domain are listed: they need no attribution, and the LICENSES file records
package, path and licence per file all the same.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

OUT = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "library"
MAX_S = 20.0
SR = 48_000
_STK = ("supertuxkart-data", "usr/share/games/supertuxkart/data")
_MT = ("minetest-data", "usr/share/games/minetest/games/minetest_game/mods")
#: (package, path in the package, licence as its copyright file states it, UCS name)
FILES = (
    (*_STK, "sfx/lenautile_restaurant.ogg", "CC0", "AMBCafe_RestaurantWalla_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/exotic-birds.ogg", "CC0", "BIRDSong_ExoticBirdsChirping_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/exotic-birds_2.ogg", "CC0", "BIRDSong_BirdsTweetingForest_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/river_loop.ogg", "CC0", "WATRFlow_RiverStreamFlowing_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/waterfall_loop_2.ogg", "CC0", "WATRFall_WaterfallCascade_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/explosion.ogg", "CC0", "EXPLReal_ExplosionBlast_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/fireworks_show.ogg", "CC0", "FIREWork_FireworksShowBangs_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/clock.ogg", "public-domain", "CLOCKTick_ClockTicking_FDDEMO_SuperTuxKart"),
    (*_STK, "sfx/wooden_bridge.ogg", "public-domain", "WOODCreak_WoodenBridgePlanks_FDDEMO_SuperTuxKart"),
    (*_STK, "karts/sara_the_racer/skid.ogg", "CC0", "VEHSkid_TyreScreechSkid_FDDEMO_SuperTuxKart"),
    (*_MT, "tnt/sounds/tnt_explode.ogg", "CC0-1.0", "EXPLReal_ExplosionBoom_FDDEMO_Minetest"),
    (*_MT, "tnt/sounds/tnt_ignite.ogg", "CC0-1.0", "FIREBurn_FuseIgniteHiss_FDDEMO_Minetest"),
    (*_MT, "doors/sounds/doors_glass_door_open.ogg", "CC0-1.0", "DOORGlas_GlassDoorOpen_FDDEMO_Minetest"),
    (*_MT, "doors/sounds/doors_glass_door_close.ogg", "CC0-1.0", "DOORGlas_GlassDoorCloseSlam_FDDEMO_Minetest"),
)


def convert(src: Path, dst: Path) -> float:
    data, sr = sf.read(str(src), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)[: int(MAX_S * sr)]
    if sr != SR:
        frac = Fraction(SR, sr).limit_denominator(1000)
        mono = resample_poly(mono, frac.numerator, frac.denominator).astype(np.float32)
    peak = float(np.max(np.abs(mono)))
    if peak > 0.999:  # resampling can overshoot a file mastered to full scale
        mono *= 0.999 / peak
    sf.write(str(dst), mono, SR, format="OGG", subtype="VORBIS")
    return mono.size / SR


def main(extracted: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Demo sound library: sources and licences", "",
             "Every file is CC0 or public domain as the Debian package's `usr/share/doc/PACKAGE/copyright` states for "
             "its path; converted to mono 48 kHz Ogg Vorbis and trimmed to 20 s by scripts/make_demo_library.py.", "",
             "| file | Debian package | path in the package | licence | attribution |", "|---|---|---|---|---|"]
    for package, prefix, rel, licence, name in FILES:
        src = extracted / package / prefix / rel
        dur = convert(src, OUT / f"{name}.ogg")
        lines.append(f"| {name}.ogg | {package} | /{prefix}/{rel} | {licence} | none required; credits in the package's "
                     f"copyright file ({dur:.1f} s used) |")
    (OUT / "LICENSES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
