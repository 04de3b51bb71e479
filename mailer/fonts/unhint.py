"""Removes TrueType hinting from the bundled fonts and changes nothing else.

Every receipt's PDF embeds the glyphs it uses. Hinting (each glyph's instructions and
the fpgm, prep and cvt tables) was about two fifths of the glyph data, and a PDF reader
draws the outlines without it at print and screen sizes. Outlines, advances, the
character map and the layout tables stay as they were, so shaping and line breaks do
not move.

    python3 -m pip install fonttools==4.68.0
    python3 unhint.py NotoSans-Regular.ttf NotoSans-Bold.ttf \
        NotoNaskhArabic-Regular.ttf NotoNaskhArabic-Bold.ttf

Run on Debian's files (see README.md), it gives the files here byte for byte.
"""

import sys

from fontTools.ttLib import TTFont
from fontTools.ttLib.tables import ttProgram

for path in sys.argv[1:]:
    font = TTFont(path, recalcTimestamp=False)
    glyf = font["glyf"]
    for name in font.getGlyphOrder():
        glyph = glyf[name]
        glyph.expand(glyf)
        if hasattr(glyph, "program"):
            empty = ttProgram.Program()
            empty.fromBytecode(b"")
            glyph.program = empty
    for tag in ("fpgm", "prep", "cvt "):
        if tag in font:
            del font[tag]
    maxp = font["maxp"]
    maxp.maxZones = 1
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
    ):
        setattr(maxp, field, 0)
    font.save(path, reorderTables=False)
