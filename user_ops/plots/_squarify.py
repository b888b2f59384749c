"""``squarify``: the squarified treemap layout (Bruls, Huizing & van Wijk, 2000), without a dependency."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops.exceptions import DataError

__all__ = ["Rect", "squarify"]

Rect = tuple[float, float, float, float]
"""A rectangle as ``(x, y, width, height)``, ``(x, y)`` its lower-left corner."""

FloatArray = npt.NDArray[np.float64]


def squarify(
    values: Any, *, x: float = 0.0, y: float = 0.0, width: float = 1.0, height: float = 1.0
) -> list[Rect]:
    """Tile a rectangle with one rectangle per value, each of area proportional to its value.

    The squarified algorithm places the values from largest to smallest in rows along the shorter
    side of the space left, adding a value to the current row as long as that does not make the
    row's worst aspect ratio worse, so the rectangles stay close to squares. The last rectangle of
    each row and the last row end exactly on the boundary, so the rectangles tile the whole area
    without gaps or overlaps (up to float rounding of the sizes).

    Parameters
    ----------
    values:
        Positive, finite numbers (any 1-D array-like), in any order.
    x, y, width, height:
        The rectangle to tile (default: the unit square).

    Returns
    -------
    list of (x, y, width, height)
        One rectangle per value, in the order of ``values``.

    Raises
    ------
    DataError
        For an empty input, a value that is not a positive finite number (naming its position), or a
        rectangle without area.

    Examples
    --------
    >>> squarify([2, 1, 1])
    [(0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)]
    >>> [round(w * h, 3) for _, _, w, h in squarify([6, 6, 4, 3, 2, 2, 1], width=6, height=4)]
    [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0]
    """
    data = _positive_values(values)
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise DataError(f"squarify needs a rectangle with area, got width={width!r}, height={height!r}")
    order = np.argsort(-data, kind="stable")
    areas = data[order] * (width * height / float(data.sum()))
    placed: list[Rect] = []
    start = 0
    x0, y0, w, h = float(x), float(y), float(width), float(height)
    while start < len(areas):
        end = _row_end(areas, start, min(w, h))
        row = areas[start:end]
        last_row = end == len(areas)
        if w >= h:  # a column along the left side
            thickness = w if last_row else float(row.sum()) / h
            placed.extend(_stack(row, x0, y0, thickness, h, vertical=True))
            x0, w = x0 + thickness, w - thickness
        else:  # a row along the bottom
            thickness = h if last_row else float(row.sum()) / w
            placed.extend(_stack(row, x0, y0, w, thickness, vertical=False))
            y0, h = y0 + thickness, h - thickness
        start = end
    result: list[Rect] = [(0.0, 0.0, 0.0, 0.0)] * len(placed)
    for position, rect in zip(order.tolist(), placed, strict=True):
        result[position] = rect
    return result


def _positive_values(values: Any) -> FloatArray:
    try:
        data = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"squarify takes numbers, got {values!r}") from None
    if data.ndim != 1:
        raise DataError(f"squarify takes a 1-D sequence of numbers, got {data.ndim} dimensions")
    if len(data) == 0:
        raise DataError("squarify needs at least one value")
    bad = ~(np.isfinite(data) & (data > 0))
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"squarify needs positive finite values; value {position} is {float(data[position])!r} "
            "(leave empty groups out of a treemap)"
        )
    return data


def _worst(total: float, largest: float, smallest: float, side: float) -> float:
    """The worst aspect ratio of a row of areas laid along a side of length ``side``."""
    side2, total2 = side * side, total * total
    return max(side2 * largest / total2, total2 / (side2 * smallest))


def _row_end(areas: FloatArray, start: int, side: float) -> int:
    """End (exclusive) of the row beginning at ``start``: grow it while its worst ratio improves."""
    total = largest = smallest = float(areas[start])
    ratio = _worst(total, largest, smallest, side)
    end = start + 1
    while end < len(areas):
        candidate = float(areas[end])  # values are sorted: the newest is the smallest
        grown = _worst(total + candidate, largest, candidate, side)
        if grown > ratio:
            break
        total, smallest, ratio = total + candidate, candidate, grown
        end += 1
    return end


def _stack(row: FloatArray, x: float, y: float, w: float, h: float, *, vertical: bool) -> list[Rect]:
    """Split the strip ``(x, y, w, h)`` into one rectangle per area of ``row``, the last one ending
    exactly on the strip's far edge."""
    length = h if vertical else w
    fractions = np.cumsum(row) / float(row.sum())
    edges = [0.0, *(float(f) * length for f in fractions[:-1]), length]
    rects: list[Rect] = []
    for lower, upper in itertools.pairwise(edges):
        if vertical:
            rects.append((x, y + lower, w, upper - lower))
        else:
            rects.append((x + lower, y, upper - lower, h))
    return rects
