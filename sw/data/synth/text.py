"""Fonts and text pools of the synthetic generators (all shipped in installed wheels; nothing downloads).

* Latin and math text: the DejaVu and STIX fonts matplotlib ships (``mpl-data/fonts/ttf``).
* Chinese text: WenQuanYi Micro Hei from the ``paperang-p2-fonts-cjk`` wheel (the
  ``eval`` extra), a TrueType collection covering all 3,755 level-1 GB2312 characters.
* Character pools: level-1 GB2312 hanzi decoded from their code points (rows
  0xB0-0xD7), split into two disjoint halves so that calibration and evaluation
  splits never share a character; Latin pseudo-words from disjoint syllable sets.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import ImageFont

__all__ = ["cjk_font_path", "mpl_font_path", "font", "hanzi_pool", "latin_words", "SPLITS"]

SPLITS = ("calib", "eval")
_CJK_DISTRIBUTION = "paperang-p2-fonts-cjk"


def cjk_font_path() -> Path:
    """``wqy-microhei.ttc`` inside the installed ``paperang_p2_fonts_cjk`` package."""
    spec = importlib.util.find_spec("paperang_p2_fonts_cjk")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the CJK font package is not installed: pip install 'hwsim[eval]' (it brings {_CJK_DISTRIBUTION})")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "wqy-microhei.ttc"
    if not path.is_file():
        raise ValueError(f"{path}: font file missing from the installed {_CJK_DISTRIBUTION}")
    return path


def mpl_font_path(name: str) -> Path:
    """A TrueType font matplotlib ships, e.g. ``DejaVuSerif.ttf``."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise ValueError(f"{path}: font missing from the installed matplotlib")
    return path


@lru_cache(maxsize=256)
def font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A Pillow FreeType font (cached: fonts are immutable)."""
    return ImageFont.truetype(path, size=size, index=0, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=2)
def hanzi_pool(split: str) -> str:
    """Level-1 GB2312 characters of one split: rows 0xB0-0xC3 (calib) or 0xC4-0xD7 (eval)."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    rows = range(0xB0, 0xC4) if split == "calib" else range(0xC4, 0xD8)
    chars = []
    for hi in rows:
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:  # the last row of level 1 ends at 0xD7F9
                continue
            chars.append(bytes([hi, lo]).decode("gb2312"))
    return "".join(chars)


_SYLLABLES = {
    "calib": ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ber", "con", "dis", "gen", "pla", "str", "tion"),
    "eval": ("ba", "de", "fu", "gi", "ho", "ju", "pe", "wu", "ant", "ex", "im", "mod", "pre", "quo", "sys"),
}


def latin_words(rng: np.random.Generator, split: str, count: int) -> list[str]:
    """``count`` pseudo-words of 1-4 syllables from the split's syllable set."""
    syllables = _SYLLABLES[split]
    n = rng.integers(1, 5, size=count)
    picks = rng.integers(0, len(syllables), size=int(n.sum()))
    words, k = [], 0
    for length in n:
        words.append("".join(syllables[i] for i in picks[k : k + length]))
        k += length
    return words
