"""A marked algorithm tree drawn as inline SVG (left to right, one column per depth).

The path taken is never shown by colour alone: its boxes have a thick border and a
numbered badge ("1", "2", … in the order of the path), its edges are thick, solid
and end in an arrowhead, the other boxes and edges are thin and dashed, and the
``<desc>`` says the path in words.  Styling is done with presentation attributes
(no ``style`` attribute, no script), so the SVG passes a strict Content-Security-Policy
and prints the same without the page's stylesheet.  Every text is escaped.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from markupsafe import Markup, escape

from service.view.diagram import Marked, MarkedFlow, path_text

_CHAR = 6.6  # average width of a 12 px sans-serif character
_LINE = 15
_PAD = 8
_GAP = 178  # horizontal room between columns, for the edge labels
_VGAP = 12
_WIDTH = {"decision": 200, "outcome": 236, "check": 250}
_TAKEN = {"stroke": "#0b3d91", "fill": "#e6eefb", "text": "#000000", "width": "3"}
_OTHER = {"stroke": "#6b6b6b", "fill": "#ffffff", "text": "#3a3a3a", "width": "1"}


@dataclass
class _Box:
    node: Marked
    lines: list[str]
    value_lines: list[str]
    width: int
    height: int
    x: float = 0
    y: float = 0  # centre


def _wrap(text: str, width: int, bold: bool = False) -> list[str]:
    char = _CHAR * 1.1 if bold else _CHAR  # bold glyphs are wider
    return textwrap.wrap(text, max(8, int((width - 2 * _PAD) / char))) or [""]


def _box(node: Marked) -> _Box:
    width = _WIDTH.get(node.step.kind, 200)
    label = node.step.label
    if node.step.kind == "outcome":
        label = f"{'/'.join(node.step.rule_ids)}: {label}"
    elif node.matched and node.step.kind == "check":
        label = f"{label}: {', '.join(node.matched)}"
    lines = _wrap(label, width, bold=node.taken)
    value_lines = _wrap(node.values, width) if node.values else []
    height = 2 * _PAD + _LINE * (len(lines) + len(value_lines))
    return _Box(node, lines, value_lines, width, height)


def _layout(root: Marked) -> tuple[list[_Box], list[tuple[_Box, _Box]], float, float]:
    boxes: list[_Box] = []
    edges: list[tuple[_Box, _Box]] = []
    depth_width: dict[int, int] = {}
    cursor = 0.0

    def place(node: Marked, depth: int) -> _Box:
        nonlocal cursor
        box = _box(node)
        boxes.append(box)
        depth_width[depth] = max(depth_width.get(depth, 0), box.width)
        box.x = depth  # the column; turned into pixels below
        if not node.children:
            box.y = cursor + box.height / 2
            cursor += box.height + _VGAP
            return box
        kids = [place(child, depth + 1) for child in node.children]
        edges.extend((box, kid) for kid in kids)
        box.y = (kids[0].y + kids[-1].y) / 2
        return box

    place(root, 0)
    offsets, x = {}, 24.0  # room for the first badge
    for depth in sorted(depth_width):
        offsets[depth] = x
        x += depth_width[depth] + _GAP
    for box in boxes:
        box.x = offsets[int(box.x)]
        box.y += _PAD + 4
    width = x - _GAP + 8
    height = cursor + 2 * _PAD
    return boxes, edges, width, height


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}"{extra}>{escape(text)}</text>'


def _draw_edge(parent: _Box, child: _Box, uid: str) -> str:
    taken = parent.node.taken and child.node.taken
    style = _TAKEN if taken else _OTHER
    x1, y1 = parent.x + parent.width, parent.y
    x2, y2 = child.x - (6 if taken else 0), child.y
    elbow = x1 + 14
    parts = [
        f'<g class="edge{" taken" if taken else ""}">',
        f'<path d="M{x1:.0f},{y1:.0f} H{elbow:.0f} V{y2:.0f} H{x2:.0f}" fill="none" '
        f'stroke="{style["stroke"]}" stroke-width="{style["width"]}"'
        + ("" if taken else ' stroke-dasharray="5 4"')
        + (f' marker-end="url(#{uid}-arrow)"' if taken else "")
        + "/>",
    ]
    label = child.node.step.edge
    if label:
        lines = textwrap.wrap(label, int((_GAP - 30) / 6.2)) or [label]
        weight = "bold" if taken else "normal"
        parts.append(
            _text(elbow + 6, y2 - 5, lines[0], font_size="11", font_weight=weight, fill="#000")
        )
        if len(lines) > 1:
            rest = " ".join(lines[1:])
            parts.append(
                _text(elbow + 6, y2 + 13, rest, font_size="11", font_weight=weight, fill="#000")
            )
    parts.append("</g>")
    return "".join(parts)


def _draw_box(box: _Box) -> str:
    node = box.node
    style = _TAKEN if node.taken else _OTHER
    top = box.y - box.height / 2
    radius = {"outcome": 12, "check": 6}.get(node.step.kind, 2)
    rules = " ".join(node.matched)
    state = "taken" if node.taken else "not-taken"
    parts = [
        f'<g class="node {state} {escape(node.step.kind)}" data-step="{escape(node.step.key)}"'
        + (f' data-rules="{escape(rules)}"' if rules else "")
        + ">",
        f'<rect x="{box.x:.0f}" y="{top:.0f}" width="{box.width}" height="{box.height}" '
        f'rx="{radius}" fill="{style["fill"]}" stroke="{style["stroke"]}" '
        f'stroke-width="{style["width"]}"'
        + ("" if node.taken else ' stroke-dasharray="5 4"')
        + "/>",
    ]
    y = top + _PAD + 11
    weight = "bold" if node.taken else "normal"
    for line in box.lines:
        parts.append(
            _text(box.x + _PAD, y, line, font_size="12", font_weight=weight, fill=style["text"])
        )
        y += _LINE
    for line in box.value_lines:
        parts.append(_text(box.x + _PAD, y, line, font_size="12", font_style="italic", fill="#000"))
        y += _LINE
    if node.order is not None:
        cx = box.x - 12
        parts.append(
            f'<circle cx="{cx:.0f}" cy="{box.y:.0f}" r="10" fill="#0b3d91" stroke="#000" '
            'stroke-width="1"/>'
        )
        parts.append(
            _text(
                cx,
                box.y + 4,
                str(node.order),
                font_size="11",
                font_weight="bold",
                fill="#ffffff",
                text_anchor="middle",
            )
        )
    parts.append("</g>")
    return "".join(parts)


def draw(marked: MarkedFlow, uid: str) -> Markup:
    """The figure as an ``<svg>`` element with a title and the path in words as ``desc``.

    Args:
        marked: the figure marked with a result's path.
        uid: a prefix unique in the page (element ids of the title, desc and marker).
    """
    boxes, edges, width, height = _layout(marked.root)
    steps = path_text(marked)
    if steps:
        desc = "Path taken: " + " then ".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) + "."
    else:
        desc = "This figure was not used for this result."
    uid = str(escape(uid))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="Arial, Helvetica, sans-serif">',
        f'<title id="{uid}-title">{escape(marked.flow.title)} ({escape(marked.flow.source)})'
        "</title>",
        f'<desc id="{uid}-desc">{escape(desc)}</desc>',
        f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{_TAKEN["stroke"]}"/></marker></defs>',
    ]
    parts += [_draw_edge(parent, child, uid) for parent, child in edges]
    parts += [_draw_box(box) for box in boxes]
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["draw"]
