"""Short scene facts from the camera for the LLM prompt: objects (count, colour, shape),
light, a person, motion.

``SceneFacts.update(image, t)`` analyses a frame at most every ``interval_s`` (the agent
calls it from ``observe`` for every VideoFrame; the rest are skipped at the cost of one
comparison). The analysis runs on a ~160-pixel-wide strided view, box-blurred once so
sensor noise and JPEG blocks do not look like colour:

- light: median luma against ``DARK_LUMA`` (a rendered dark scene is 0.28-0.42 of the
  light of a bright one; a webcam in a lit room sits far above it);
- objects: connected regions that are either strongly saturated (saturation > 0.6: paint,
  plastic, not skin or walls) or neutral and much brighter than the wall behind them
  (white things; the wall is a plane fitted to the luma, so a light gradient is not an
  object). Each region's colour is named from its mean RGB, its shape from its outline:
  solidity (star), fill of its enclosing circle (circle) and of its rotated bounding
  rectangle (square, else triangle);
- person: a face-sized, face-shaped skin-toned blob (a moderately saturated orange hue),
  or a face from OpenCV's Haar cascade when OpenCV 4 ships it (real faces at a distance);
- motion: mean absolute difference of the grey image to the previous analysed frame.

About 1-2 ms per analysis on 160x120 (``scripts/bench_cascade.py`` prints it). ``text``
is the latest one-line description, or None before the first frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# hue ranges in degrees -> colour names (upper bounds, ascending); red wraps around 360
_HUES = ((15, "red"), (42, "orange"), (75, "yellow"), (165, "green"), (195, "cyan"),
         (262, "blue"), (320, "purple"), (345, "pink"), (360, "red"))
_HUE_EDGES = np.array([h for h, _ in _HUES], np.float32)
_HUE_NAMES = [n for _, n in _HUES]
ANALYSIS_WIDTH = 160
FACE_WIDTH = 80  # Haar faces are searched at 80x60: a webcam user's face is > 30 px there
DARK_LUMA = 62.0  # median luma (0..255) below which the scene is "dark"
VIVID_SAT = 0.6  # saturation of paint and plastic; skin stays below ~0.55, walls below 0.15
NEUTRAL_SAT = 0.2  # a white thing is less saturated than this ...
WHITE_GAIN = 1.35  # ... and this much brighter than the wall behind it
MIN_AREA = 0.004  # an object covers at least this fraction of the picture (77 px at 160x120)
MAX_OBJECTS = 6  # more regions than this are reported as "many"
NUMBERS = ("no", "one", "two", "three", "four", "five", "six")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars",
          "thing": "things"}


@dataclass(frozen=True)
class Scene:
    brightness: str  # "bright" | "dark"
    objects: tuple[tuple[str, str], ...]  # (colour, shape) per object, left to right
    moving: bool | None  # None: no previous frame to compare with
    person: bool | None  # None: no way to tell

    @property
    def colours(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for c, _ in self.objects))

    @property
    def shapes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for _, s in self.objects))

    def text(self) -> str:
        """Facts in the words an answer uses, so a small LM only has to copy them: "count
        two; colour red; shape triangles; the light is dark; nobody is there." (keys that
        the questions use; light and person as short sentences, which Gemma 270M follows
        more often than "light dark; person nobody" -- 0.95 vs 0.88 on 56 questions)."""
        n = len(self.objects)
        parts = [f"count {NUMBERS[n] if n <= MAX_OBJECTS else 'many'}"]
        if n:
            parts += [f"colour {' and '.join(self.colours)}", f"shape {_shape_words(self.shapes, n)}"]
        parts.append(f"the light is {self.brightness}")
        if self.person is not None:
            parts.append("someone is there" if self.person else "nobody is there")
        if self.moving is not None:
            parts.append("something is moving" if self.moving else "nothing is moving")
        return "; ".join(parts) + "."


def _shape_words(shapes: tuple[str, ...], n: int) -> str:
    return " and ".join(PLURAL[s] if n > 1 else s for s in shapes)


def hue_name(rgb) -> str:
    """Colour name of one RGB triple (any scale): a hue name, or white/grey/black."""
    r, g, b = (float(v) for v in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    if mx <= 0 or (mx - mn) < NEUTRAL_SAT * mx:
        return "white"  # only called for regions already known to be bright or vivid
    d = mx - mn
    hue = (((g - b) / d) % 6 if mx == r else (b - r) / d + 2 if mx == g else (r - g) / d + 4) * 60
    return _HUE_NAMES[min(int(np.searchsorted(_HUE_EDGES, hue, side="right")), len(_HUE_NAMES) - 1)]


def shape_name(contour: np.ndarray) -> str:
    """circle / square / triangle / star from one outline (cv2.findContours points), by how
    well the outline's convex hull fills its smallest enclosing triangle, rotated rectangle
    and circle (about 0.95 for its own shape, at most 0.85 for the others on 160x120
    renders), and by solidity (a star's notches leave a third of its hull empty)."""
    import cv2

    hull = cv2.convexHull(contour)
    area, hull_area = cv2.contourArea(contour), cv2.contourArea(hull)
    if area <= 0 or hull_area <= 0 or len(hull) < 3:
        return "thing"
    tri_area, _ = cv2.minEnclosingTriangle(hull.astype(np.float32))
    (_, _), (w, h), _ = cv2.minAreaRect(hull)
    (_, _), radius = cv2.minEnclosingCircle(hull)
    fills = {"triangle": hull_area / max(tri_area, 1e-6), "square": hull_area / max(w * h, 1e-6),
             "circle": hull_area / (np.pi * radius * radius)}
    if area / hull_area < 0.8:
        return "star"
    best = max(fills, key=lambda k: fills[k] - _FILL_CUT[k])
    return best if fills[best] > _FILL_CUT[best] else "star"


_FILL_CUT = {"triangle": 0.8, "square": 0.88, "circle": 0.85}  # above: that shape


def _face_detector():
    try:
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        det = cv2.CascadeClassifier(path)
    except (ImportError, AttributeError):  # no OpenCV, or OpenCV 5 (no Haar cascades)
        return None
    if det.empty():
        return None
    return det


class SceneFacts:
    """Latest scene description, refreshed at most every ``interval_s`` seconds."""

    def __init__(self, interval_s: float = 0.5, faces: bool = True, motion_threshold: float = 8.0) -> None:
        self.interval_s = interval_s
        self.motion_threshold = motion_threshold  # mean |grey difference| (0..255) that counts as motion
        self._want_faces = faces
        self._detector = None
        self._detector_tried = False
        self.reset()

    def reset(self) -> None:
        self._t_last: float | None = None
        self._prev_grey: np.ndarray | None = None
        self.scene: Scene | None = None

    @property
    def text(self) -> str | None:
        return self.scene.text() if self.scene is not None else None

    def update(self, image: np.ndarray, t: float) -> bool:
        """Analyse ``image`` (H, W, 3 RGB uint8) if ``interval_s`` has passed; True if it did."""
        if self._t_last is not None and t - self._t_last < self.interval_s:
            return False
        self._t_last = t
        self.scene = self.analyse(image)
        return True

    def analyse(self, image: np.ndarray) -> Scene:
        import cv2

        small = np.ascontiguousarray(_shrink(np.asarray(image)))
        rgb = cv2.blur(small, (3, 3)).astype(np.float32)
        grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        brightness = "dark" if float(np.median(grey)) < DARK_LUMA else "bright"
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
        sat = (mx - mn) / np.maximum(mx, 1.0)
        skin = _skin_blob(rgb, sat, mx, grey.size)
        objects = _objects(rgb, grey, sat, mx - mn, skin)
        moving = None
        if self._prev_grey is not None and self._prev_grey.shape == grey.shape:
            moving = float(np.abs(grey - self._prev_grey).mean()) > self.motion_threshold
        self._prev_grey = grey
        person = skin is not None or self._haar_face(grey)
        return Scene(brightness, objects, moving, person)

    def _haar_face(self, grey: np.ndarray) -> bool:
        if not self._detector_tried:
            self._detector_tried = True
            self._detector = _face_detector() if self._want_faces else None
        if self._detector is None:
            return False
        import cv2

        h, w = grey.shape
        scale = FACE_WIDTH / w
        small = grey.astype(np.uint8)
        if scale < 1:
            small = cv2.resize(small, (FACE_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        return len(self._detector.detectMultiScale(small, scaleFactor=1.25, minNeighbors=4)) > 0


def _wall(grey: np.ndarray) -> np.ndarray:
    """The wall's luma as a plane a + b x + c y, fitted to the pixels near the median
    first, then to those near the previous fit (objects drop out, a light gradient stays)."""
    h, w = grey.shape
    ys, xs = np.mgrid[0:h:4, 0:w:4]
    a = np.stack([np.ones(xs.size, np.float32), xs.ravel() / w, ys.ravel() / h], axis=1)
    z = grey[::4, ::4].ravel()
    coef = np.array([np.median(z), 0.0, 0.0], np.float32)
    for tol in (0.3, 0.2):
        fit = a @ coef
        keep = np.abs(z - fit) < tol * np.maximum(fit, 1.0)
        if keep.sum() < 10:
            break
        coef, *_ = np.linalg.lstsq(a[keep], z[keep], rcond=None)
    gx, gy = np.arange(w, dtype=np.float32) / w, np.arange(h, dtype=np.float32) / h
    return coef[0] + coef[1] * gx[None, :] + coef[2] * gy[:, None]


def _objects(rgb, grey, sat, chroma, skin) -> tuple[tuple[str, str], ...]:
    import cv2

    wall = _wall(grey)
    vivid = (sat > VIVID_SAT) & (chroma > 12)
    white = (sat < NEUTRAL_SAT) & (grey > WHITE_GAIN * np.maximum(wall, 8.0))
    mask = (vivid | white).astype(np.uint8)
    if skin is not None:
        mask[skin] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    min_area = MIN_AREA * grey.size
    found = []
    for c in contours:
        if cv2.contourArea(c) < min_area:
            continue
        x, y, w, h = cv2.boundingRect(c)
        colour, outline = _refine(rgb, mask, c, x, y, w, h)
        found.append((x, colour, shape_name(outline)))
    return tuple((colour, shape) for _, colour, shape in sorted(found))


def _refine(rgb, mask, c, x, y, w, h, pad: int = 4):
    """Colour name and a half-contrast outline of one region: pixels count as object when
    they are at least half-way from the wall's colour (around the box) to the object's
    colour, which keeps the outline where it is under blur, JPEG blocks and noise."""
    import cv2

    H, W = mask.shape
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(W, x + w + pad), min(H, y + h + pad)
    box = rgb[y0:y1, x0:x1]
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.drawContours(inside, [c - (x0, y0)], -1, 1, -1)
    core = inside.astype(bool)
    ring = ~cv2.dilate(inside, np.ones((5, 5), np.uint8)).astype(bool) & ~mask[y0:y1, x0:x1].astype(bool)
    obj = box[core].mean(axis=0)
    if ring.sum() < 8:
        return hue_name(obj), c
    wall = np.median(box[ring], axis=0)
    axis = obj - wall
    proj = (box - wall) @ (axis / max(float(axis @ axis), 1e-6))
    half = cv2.morphologyEx((proj > 0.5).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(half, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return hue_name(obj), c
    return hue_name(obj), max(contours, key=cv2.contourArea)


def _skin_blob(rgb, sat, mx, n_pixels: int):
    """Boolean mask of a face-like skin-toned blob (orange hue, saturation 0.15-0.6,
    face-sized, taller than wide, filling its box like an ellipse), or None."""
    import cv2

    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    skin = (r >= g) & (g >= b) & (sat > 0.15) & (sat < 0.6) & (mx > 20)
    hue = 60 * (g - b) / np.maximum(r - b, 1.0)
    skin &= (hue > 8) & (hue < 42)
    mask = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < 0.01 * n_pixels or not 0.9 < h / max(w, 1) < 2.2:
            continue
        if area / float(w * h) > 0.55:
            return labels == i
    return None


def _shrink(image: np.ndarray) -> np.ndarray:
    """A view about ANALYSIS_WIDTH pixels wide (integer stride, no copy, no filtering)."""
    step = max(1, image.shape[1] // ANALYSIS_WIDTH)
    return image[::step, ::step]
