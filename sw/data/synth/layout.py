"""Rendered document pages with exact element boxes, for the PP-PicoDet layout detector (CDLA classes).

Pages are 912x1200 px (the model's 608x800 input ratio), one or two columns,
Chinese text with Latin words (CDLA is a Chinese document set) in WenQuanYi Micro
Hei, equations in STIX/DejaVu. Every element is drawn by this module, so its box
is the union of the drawn glyph / line extents, known exactly:

``text`` paragraphs (separated by white space), ``title``, ``figure`` (a chart with tick
and axis labels on a tinted panel) with its ``figure_caption`` below, ``table`` with its
``table_caption`` above, ``header`` and ``footer`` lines, ``reference`` lists and
display ``equation`` s (without their number).

Splits: ``calib`` and ``eval`` use disjoint hanzi (:func:`sw.data.synth.text.hanzi_pool`)
and Latin syllables, and different chart and table styles (bar charts and
three-line tables vs line/scatter charts and fully ruled tables).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from sw.data.synth.text import cjk_font_path, font, hanzi_pool, latin_words, mpl_font_path

__all__ = ["LAYOUT_CLASSES", "PAGE_SIZE", "render_page"]

#: The model's 10 classes in its output order (ONNX metadata ``character``).
LAYOUT_CLASSES = ("text", "title", "figure", "figure_caption", "table", "table_caption",
                  "header", "footer", "reference", "equation")
TEXT, TITLE, FIGURE, FIGURE_CAPTION, TABLE, TABLE_CAPTION, HEADER, FOOTER, REFERENCE, EQUATION = range(10)
PAGE_SIZE = (912, 1200)  # width, height (px)
_INK = (20, 20, 20)


class _Page:
    """Drawing state of one page: image, boxes and the split's text sources."""

    def __init__(self, rng: np.random.Generator, split: str) -> None:
        self.rng = rng
        self.split = split
        tone = int(rng.integers(238, 256))
        self.image = Image.new("RGB", PAGE_SIZE, (tone, tone, max(tone - int(rng.integers(0, 8)), 0)))
        self.draw = ImageDraw.Draw(self.image)
        self.cjk = str(cjk_font_path())
        self.hanzi = hanzi_pool(split)
        self.boxes: list[tuple[float, float, float, float]] = []
        self.labels: list[int] = []

    def add(self, box: tuple[float, float, float, float], label: int) -> None:
        self.boxes.append(box)
        self.labels.append(label)

    def phrase(self, chars: int, latin: float = 0.15) -> str:
        """Hanzi with occasional Latin words and punctuation."""
        out = []
        while len(out) < chars:
            r = self.rng.random()
            if r < latin:
                out.append(" " + latin_words(self.rng, self.split, 1)[0] + " ")
            elif r < latin + 0.06:
                out.append("，" if self.rng.random() < 0.7 else "。")
            else:
                out.append(self.hanzi[int(self.rng.integers(0, len(self.hanzi)))])
        return "".join(out)

    def line(self, x: float, y: float, text: str, size: int, width: float | None = None, *, path: str | None = None,
             stroke: int = 0) -> tuple[float, float, float, float]:
        """Draw one line (clipped to ``width`` px); returns its ink box."""
        f = font(path or self.cjk, size)
        if width is not None:
            length = f.getlength(text)
            while text and length > width:  # cut in proportion, then re-measure
                text = text[: max(0, min(len(text) - 1, int(len(text) * width / length)))].rstrip()
                length = f.getlength(text)
        self.draw.text((x, y), text, font=f, fill=_INK, stroke_width=stroke, stroke_fill=_INK)
        return self.draw.textbbox((x, y), text, font=f, stroke_width=stroke)


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    b = np.asarray(boxes, dtype=np.float64)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _paragraph(page: _Page, x0: float, y: float, width: float, size: int, lines: int, label: int = TEXT) -> float:
    spacing = int(size * page.rng.uniform(1.45, 1.8))
    boxes = []
    per_line = int(width / size) + 2
    for i in range(lines):
        indent = 2 * size if i == 0 and label == TEXT else 0
        last = i == lines - 1
        n = int(per_line * (page.rng.uniform(0.3, 0.9) if last else 1.0))
        boxes.append(page.line(x0 + indent, y, page.phrase(max(n, 2)), size, width - indent))
        y += spacing
    page.add(_union(boxes), label)
    return y


def _chart(page: _Page, box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    """A bar chart (calib) or a line / scatter chart (eval) with tick and axis labels inside ``box``.

    Returns the drawn extent (axes, marks and labels).
    """
    x1, y1, x2, y2 = box
    rng, draw = page.rng, page.draw
    # A tinted panel behind the chart makes the figure's extent unambiguous.
    tint = tuple(int(v) for v in rng.integers(205, 240, size=3))
    draw.rectangle(box, fill=tint, outline=(90, 90, 90), width=1)
    label_size = max(10, int((y2 - y1) / 16))
    f = font(str(mpl_font_path("DejaVuSans.ttf")), label_size)
    ax0, ay0, ax1, ay1 = x1 + 3.6 * label_size, y1 + 10, x2 - 10, y2 - 3.0 * label_size
    extents = [(ax0, ay0, ax1, ay1)]
    draw.line([(ax0, ay0), (ax0, ay1), (ax1, ay1)], fill=(0, 0, 0), width=2)
    top = float(rng.choice([1, 5, 10, 50, 100]))
    for k in range(5):  # y ticks and their labels
        ty = ay1 - (ay1 - ay0) * k / 4
        draw.line([(ax0 - 5, ty), (ax0, ty)], fill=(0, 0, 0), width=1)
        label = f"{top * k / 4:g}"
        lx = ax0 - 8 - f.getlength(label)
        draw.text((lx, ty - label_size / 2), label, font=f, fill=(0, 0, 0))
        extents.append(draw.textbbox((lx, ty - label_size / 2), label, font=f))
    n = int(rng.integers(4, 10))
    values = rng.uniform(0.15, 0.95, size=n)
    colors = [tuple(int(c) for c in rng.integers(30, 220, size=3)) for _ in range(3)]
    step = (ax1 - ax0) / n
    for i in range(n):  # x tick labels
        label = str(i + 1) if rng.random() < 0.5 else latin_words(rng, page.split, 1)[0][:4]
        lx = ax0 + (i + 0.5) * step - f.getlength(label) / 2
        draw.text((lx, ay1 + 4), label, font=f, fill=(0, 0, 0))
        extents.append(draw.textbbox((lx, ay1 + 4), label, font=f))
    if page.split == "calib":
        for i, v in enumerate(values):
            bx = ax0 + i * step + step * 0.2
            draw.rectangle([bx, ay1 - v * (ay1 - ay0), bx + step * 0.6, ay1], fill=colors[i % 2])
    else:
        for series in range(int(rng.integers(1, 4))):
            vals = np.clip(values + rng.normal(0, 0.12, size=n), 0.05, 1.0)
            pts = [(ax0 + (i + 0.5) * step, ay1 - v * (ay1 - ay0)) for i, v in enumerate(vals)]
            draw.line(pts, fill=colors[series], width=2)
            for px, py in pts:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colors[series])
    name = latin_words(rng, page.split, 1)[0]
    nx = (ax0 + ax1) / 2 - f.getlength(name) / 2
    draw.text((nx, ay1 + 1.5 * label_size), name, font=f, fill=(0, 0, 0))
    extents.append(draw.textbbox((nx, ay1 + 1.5 * label_size), name, font=f))
    return float(x1), float(y1), float(x2 + 1), float(y2 + 1)


#: CDLA's figure boxes include a white margin around the figure (px at this page size:
#: left/right, top, bottom), measured as the mean offset of the float model's boxes
#: from the drawn panel on calibration pages.
_FIGURE_PAD = (13.0, 9.0, 5.0)


def _figure(page: _Page, x0: float, y: float, width: float, size: int, number: int) -> float:
    fw = int(width * page.rng.uniform(0.55, 0.95))
    fh = int(fw * page.rng.uniform(0.45, 0.75))
    fx = int(x0 + (width - fw) / 2)
    x1, y1, x2, y2 = _chart(page, (fx, int(y), fx + fw, int(y) + fh))
    pad_x, pad_top, pad_bottom = _FIGURE_PAD
    page.add((x1 - pad_x, y1 - pad_top, x2 + pad_x, y2 + pad_bottom), FIGURE)
    y += fh + size * 0.6
    caption = f"图{number} " + page.phrase(int(page.rng.integers(6, 16)), latin=0.1)
    f = font(page.cjk, size - 2)
    cx = x0 + max(0.0, (width - f.getlength(caption)) / 2)
    page.add(page.line(cx, y, caption, size - 2, width), FIGURE_CAPTION)
    return y + size * 2.2


def _table(page: _Page, x0: float, y: float, width: float, size: int, number: int) -> float:
    caption = f"表{number} " + page.phrase(int(page.rng.integers(6, 14)), latin=0.1)
    f = font(page.cjk, size - 2)
    page.add(page.line(x0 + max(0.0, (width - f.getlength(caption)) / 2), y, caption, size - 2, width), TABLE_CAPTION)
    y += size * 1.6
    rows, cols = int(page.rng.integers(3, 8)), int(page.rng.integers(3, 6))
    tw = width * page.rng.uniform(0.75, 1.0)
    tx = x0 + (width - tw) / 2
    row_h = int((size - 2) * 1.9)
    draw, ruled = page.draw, page.split == "eval"
    top = y
    for r in range(rows):
        cy = y + r * row_h
        for c in range(cols):
            cell_x = tx + c * tw / cols + 6
            text = page.phrase(int(page.rng.integers(2, 5)), latin=0.0) if r == 0 or c == 0 else \
                f"{page.rng.uniform(0, 100):.{int(page.rng.integers(0, 3))}f}"
            page.line(cell_x, cy + row_h * 0.2, text, size - 3, tw / cols - 10)
    bottom = y + rows * row_h
    draw.line([(tx, top - 3), (tx + tw, top - 3)], fill=_INK, width=2)
    draw.line([(tx, top + row_h - 2), (tx + tw, top + row_h - 2)], fill=_INK, width=1)
    draw.line([(tx, bottom), (tx + tw, bottom)], fill=_INK, width=2)
    if ruled:
        for r in range(2, rows):
            draw.line([(tx, top + r * row_h - 2), (tx + tw, top + r * row_h - 2)], fill=_INK, width=1)
        for c in range(cols + 1):
            cx = tx + c * tw / cols
            draw.line([(cx, top - 3), (cx, bottom)], fill=_INK, width=1)
    page.add((tx, top - 4, tx + tw + 1, bottom + 2), TABLE)
    return bottom + size * 1.6


_GREEK = "αβγδεθλμσφωΔΣΩ"


def _math_terms(rng: np.random.Generator, count: int) -> str:
    terms = []
    for _ in range(count):
        sym = _GREEK[int(rng.integers(0, len(_GREEK)))] if rng.random() < 0.4 else "xyzabfgkn"[int(rng.integers(0, 9))]
        piece = sym + ("ᵢ" if rng.random() < 0.3 else "") + ("²" if rng.random() < 0.3 else "")
        if rng.random() < 0.3:
            piece = f"({piece}+{int(rng.integers(1, 10))})"
        terms.append(piece)
    ops = [" + ", " − ", " · "]
    return terms[0] + "".join(ops[int(rng.integers(0, 3))] + t for t in terms[1:])


def _equation(page: _Page, x0: float, y: float, width: float, size: int, number: int) -> float:
    """A display equation: ``lhs = [Σ] terms``, often with a built-up fraction; its number is not in the box."""
    rng = page.rng
    path = str(mpl_font_path("DejaVuSerif-Italic.ttf" if page.split == "calib" else "STIXGeneralItalic.ttf"))
    esize = size + 2
    f = font(path, esize)
    head = "xyzEFLJ"[int(rng.integers(0, 7))] + " = " + ("Σ " if rng.random() < 0.5 else "")
    tail = " + " + _math_terms(rng, int(rng.integers(1, 4))) if rng.random() < 0.7 else ""
    if rng.random() < 0.6:  # built-up fraction: numerator over a rule over denominator
        num, den = _math_terms(rng, int(rng.integers(1, 4))), _math_terms(rng, int(rng.integers(1, 3)))
        frac_w = max(f.getlength(num), f.getlength(den)) + 6
        total = f.getlength(head) + frac_w + f.getlength(tail)
        ex = x0 + max(0.0, (width - total) / 2)
        mid = y + esize * 1.15
        boxes = [page.line(ex, mid - esize * 0.55, head, esize, path=path)]
        fx = ex + f.getlength(head)
        boxes.append(page.line(fx + (frac_w - f.getlength(num)) / 2, y, num, esize, path=path))
        page.draw.line([(fx, mid + 2), (fx + frac_w, mid + 2)], fill=_INK, width=max(1, esize // 14))
        boxes.append((fx, mid + 1, fx + frac_w, mid + 3))
        boxes.append(page.line(fx + (frac_w - f.getlength(den)) / 2, mid + 6, den, esize, path=path))
        if tail:
            boxes.append(page.line(fx + frac_w, mid - esize * 0.55, tail, esize, path=path))
        page.add(_union(boxes), EQUATION)
        page.line(x0 + width - 3 * size, mid - esize * 0.55, f"({number})", size, path=str(mpl_font_path("DejaVuSerif.ttf")))
        return y + size * 4.2
    text = head + _math_terms(rng, int(rng.integers(2, 6))) + tail
    ex = x0 + max(0.0, (width - f.getlength(text)) / 2)
    page.add(page.line(ex, y, text, esize, width * 0.8, path=path), EQUATION)
    page.line(x0 + width - 3 * size, y, f"({number})", size, path=str(mpl_font_path("DejaVuSerif.ttf")))
    return y + size * 2.6


def _references(page: _Page, x0: float, y: float, width: float, size: int, limit: float) -> float:
    size -= 3
    all_boxes: list[tuple[float, float, float, float]] = []
    for k in range(int(page.rng.integers(2, 7))):
        if y + 2.6 * size > limit:
            break
        authors = ", ".join(w.capitalize() for w in latin_words(page.rng, page.split, 2))
        entry = f"[{k + 1}] {authors}. " + page.phrase(int(page.rng.integers(8, 30)), latin=0.3)
        boxes = [page.line(x0, y, entry, size, width)]
        y += size * 1.5
        if page.rng.random() < 0.5:
            boxes.append(page.line(x0 + 2 * size, y, page.phrase(int(width / size * 0.6), latin=0.3), size, width - 2 * size))
            y += size * 1.5
        all_boxes += boxes
    if all_boxes:
        page.add(_union(all_boxes), REFERENCE)  # the list is one block, as the model reads it
    return y + size


def _column(page: _Page, x0: float, y: float, width: float, bottom: float, size: int, counters: dict) -> float:
    """Fill a column from ``y`` down to ``bottom``; returns the y where it stopped."""
    rng = page.rng
    while True:
        room = bottom - y
        kind = rng.choice(["text", "figure", "table", "equation"], p=[0.55, 0.17, 0.15, 0.13])
        if kind == "text":
            lines = int(min(rng.integers(2, 9), room // (size * 1.8)))
            if lines < 2:
                break
            # A clear gap between paragraphs: the model separates paragraphs by white space.
            y = _paragraph(page, x0, y, width, size, lines) + size * rng.uniform(2.0, 3.0)
        elif kind == "figure" and room > width * 0.8 + 3 * size:
            counters["figure"] += 1
            y = _figure(page, x0, y, width, size, counters["figure"])
        elif kind == "table" and room > 12 * size:
            counters["table"] += 1
            y = _table(page, x0, y, width, size, counters["table"])
        elif kind == "equation" and room > 5 * size:
            counters["equation"] += 1
            y = _equation(page, x0, y, width, size, counters["equation"])
        elif room < 3 * size:
            break
    return y


def render_page(rng: np.random.Generator, split: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One page: uint8 RGB ``[1200, 912, 3]``, boxes ``[N, 4]`` (x1, y1, x2, y2 px), 0-based class indices."""
    page = _Page(rng, split)
    w, h = PAGE_SIZE
    margin = int(rng.integers(55, 95))
    size = int(rng.integers(16, 22))
    y = margin * 0.55
    if rng.random() < 0.85:  # running header, with a rule below it
        text = page.phrase(int(rng.integers(8, 20)), latin=0.2)
        box = page.line(margin, y, text, size - 3, w - 2 * margin)
        if rng.random() < 0.5:
            page.draw.line([(margin, box[3] + 6), (w - margin, box[3] + 6)], fill=_INK, width=1)
        page.add(box, HEADER)
    y = margin * 1.2
    if rng.random() < 0.5:  # title block
        tsize = int(size * rng.uniform(1.5, 2.0))
        text = page.phrase(int(rng.integers(6, 18)), latin=0.1)
        f = font(page.cjk, tsize)
        tx = max(float(margin), (w - f.getlength(text)) / 2)
        page.add(page.line(tx, y, text, tsize, w - 2 * margin, stroke=1), TITLE)
        y += tsize * 2.2
        if rng.random() < 0.6:  # abstract-like full-width paragraph
            y = _paragraph(page, margin + size, y, w - 2 * margin - 2 * size, size - 2, int(rng.integers(2, 5))) + size
    bottom = h - margin
    counters = {"figure": int(rng.integers(0, 6)), "table": int(rng.integers(0, 4)), "equation": int(rng.integers(0, 9))}
    if rng.random() < 0.55:
        gap = int(rng.integers(24, 40))
        col_w = (w - 2 * margin - gap) / 2
        columns = [(margin, col_w), (margin + col_w + gap, col_w)]
    else:
        columns = [(margin, w - 2 * margin)]
    # References, when present, close the last column (as in papers).
    reserve = int(rng.integers(8, 16)) * size if rng.random() < 0.35 else 0
    for k, (x0, width) in enumerate(columns):
        last = k == len(columns) - 1
        end = _column(page, x0, y, width, bottom - (reserve if last else 0), size, counters)
        if last and reserve:
            _references(page, x0, end + size, width, size, bottom)
    if rng.random() < 0.85:  # footer: page number, sometimes with text
        text = f"{int(rng.integers(1, 400))}" if rng.random() < 0.5 else \
            page.phrase(int(rng.integers(4, 12)), latin=0.2) + f"  {int(rng.integers(1, 400))}"
        f = font(page.cjk, size - 4)
        page.add(page.line((w - f.getlength(text)) / 2, h - margin * 0.6, text, size - 4), FOOTER)
    return np.asarray(page.image), np.asarray(page.boxes, dtype=np.float64).reshape(-1, 4), page.labels
