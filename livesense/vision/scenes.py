"""Seeded procedural scenes: camera-like frames of simple objects, maybe a person.

A ``Scene`` is a plain description (what is where, lighting, nuisances); ``render`` turns it
into an RGB uint8 image, deterministically (the scene carries its own noise seed).
``random_scene`` draws scenes under constraints, ``clip`` makes short sequences with motion
or changes, and ``held_out_pairs`` names the (colour, shape) pairs kept out of training so a
model's compositional generalisation can be measured on them.

Labels (``Scene.labels``) are the answers to the visual questions the model is asked:
colour, shape, count, brightness, person present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

SHAPES = ("circle", "square", "triangle", "star")
PALETTE = {  # linear-ish RGB in [0, 1]; saturated so "what colour" has one answer
    "red": (0.86, 0.10, 0.09),
    "orange": (0.96, 0.48, 0.06),
    "yellow": (0.93, 0.86, 0.10),
    "green": (0.12, 0.66, 0.18),
    "blue": (0.10, 0.28, 0.88),
    "purple": (0.58, 0.14, 0.74),
    "white": (0.97, 0.97, 0.96),
}
COLOURS = tuple(PALETTE)
BRIGHTNESS = ("bright", "dark")
SKIN = ((0.96, 0.80, 0.69), (0.87, 0.67, 0.52), (0.70, 0.50, 0.36), (0.48, 0.33, 0.23))
DEFAULT_SIZE = (160, 120)  # (W, H), the runtime camera size (config.VisionConfig)
_HELD_OUT = (("red", "triangle"), ("green", "star"), ("blue", "square"), ("yellow", "circle"))


def held_out_pairs() -> frozenset[tuple[str, str]]:
    """(colour, shape) pairs reserved for evaluation: training must never show them."""
    return frozenset(_HELD_OUT)


def allowed_pairs(held_out: str = "exclude") -> tuple[tuple[str, str], ...]:
    """All (colour, shape) pairs; ``held_out`` is "exclude", "only" or "include"."""
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    reserved = held_out_pairs()
    if held_out == "exclude":
        pairs = [p for p in pairs if p not in reserved]
    elif held_out == "only":
        pairs = [p for p in pairs if p in reserved]
    elif held_out != "include":
        raise ValueError(f"held_out must be 'exclude', 'only' or 'include', got {held_out!r}")
    return tuple(pairs)


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    x: float  # centre, fraction of width
    y: float  # centre, fraction of height
    size: float  # diameter, fraction of height
    angle: float = 0.0  # degrees
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # small per-object colour jitter


@dataclass(frozen=True)
class Person:
    x: float  # face centre, fractions of width/height
    y: float
    size: float  # face height, fraction of height
    skin: int = 0  # index into SKIN
    shirt: tuple[float, float, float] = (0.25, 0.25, 0.28)  # desaturated clothing


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]
    background: tuple[float, float, float] = (0.45, 0.44, 0.42)
    brightness: str = "bright"
    gain: float = 1.0  # global illumination; "dark" scenes use a low gain
    person: Person | None = None
    light_grad: tuple[float, float] = (0.0, 0.0)  # multiplicative gradient across x, y
    light_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # colour temperature
    noise: float = 0.01  # sensor noise std, fraction of full scale
    blur: float = 0.0  # Gaussian sigma in pixels (at 160x120)
    clutter: int = 0  # number of faint background strokes
    jpeg: int = 0  # JPEG quality (0 = none)
    seed: int = 0  # wall texture and clutter realisation
    frame: int = 0  # sensor-noise realisation (a clip varies this, not ``seed``)
    meta: dict = field(default_factory=dict, compare=False)

    def labels(self) -> dict:
        """Answers to the visual questions (colour/shape are None when objects differ)."""
        colours = {o.colour for o in self.objects}
        shapes = {o.shape for o in self.objects}
        return {
            "colour": colours.pop() if len(colours) == 1 else None,
            "shape": shapes.pop() if len(shapes) == 1 else None,
            "count": len(self.objects),
            "brightness": self.brightness,
            "person": self.person is not None,
        }


# ----------------------------------------------------------------------------- drawing


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if shape == "square":
        t = np.deg2rad(angle) + np.pi / 4 + np.arange(4) * np.pi / 2
        rad = np.full(4, r * 0.92 * math.sqrt(2))  # same visual mass as a circle of radius r
    elif shape == "triangle":
        t = np.deg2rad(angle) - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        rad = np.full(3, r * 1.22)
    elif shape == "star":
        t = np.deg2rad(angle) - np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r * 1.25, r * 0.52)
    else:
        raise ValueError(f"unknown polygon shape {shape!r}")
    return np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], axis=1)


def _mask(shape: str, cx: float, cy: float, r: float, angle: float, hw: tuple[int, int]) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of one shape (sub-pixel accurate)."""
    import cv2

    m = np.zeros(hw, np.uint8)
    if shape == "circle":
        cv2.circle(m, (round(cx * 16), round(cy * 16)), round(r * 16), 255, -1, cv2.LINE_AA, 4)
    else:
        pts = np.round(_polygon(shape, cx, cy, r, angle) * 16).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA, 4)
    return m.astype(np.float32) / 255.0


def _ellipse_mask(cx, cy, ax, ay, hw, angle=0.0) -> np.ndarray:
    import cv2

    m = np.zeros(hw, np.uint8)
    cv2.ellipse(m, (round(cx * 16), round(cy * 16)), (max(1, round(ax * 16)), max(1, round(ay * 16))),
                angle, 0, 360, 255, -1, cv2.LINE_AA, 4)
    return m.astype(np.float32) / 255.0


def _paint(canvas: np.ndarray, mask: np.ndarray, rgb) -> None:
    a = mask[..., None]
    canvas *= 1.0 - a
    canvas += a * np.asarray(rgb, np.float32)


def _draw_person(canvas: np.ndarray, p: Person) -> None:
    h, w = canvas.shape[:2]
    cx, cy, fh = p.x * w, p.y * h, p.size * h
    hw = (h, w)
    _paint(canvas, _ellipse_mask(cx, cy + fh * 1.25, fh * 0.95, fh * 0.7, hw), p.shirt)  # shoulders
    _paint(canvas, _ellipse_mask(cx, cy - fh * 0.08, fh * 0.42, fh * 0.55, hw), (0.12, 0.09, 0.07))  # hair
    _paint(canvas, _ellipse_mask(cx, cy + fh * 0.04, fh * 0.35, fh * 0.47, hw), SKIN[p.skin])  # face
    for dx in (-0.15, 0.15):  # eyes
        _paint(canvas, _ellipse_mask(cx + dx * fh, cy - fh * 0.02, fh * 0.06, fh * 0.04, hw), (0.08, 0.06, 0.05))
    _paint(canvas, _ellipse_mask(cx, cy + fh * 0.25, fh * 0.13, fh * 0.035, hw), (0.45, 0.16, 0.14))  # mouth


def _background(scene: Scene, hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = hw
    low = rng.normal(0, 0.025, (4, 5)).astype(np.float32)  # soft wall texture
    tex = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = np.asarray(scene.background, np.float32)
    canvas += tex[..., None]
    for _ in range(scene.clutter):  # faint, desaturated strokes and boxes
        shade = float(np.clip(np.mean(scene.background) + rng.uniform(-0.12, 0.12), 0, 1))
        col = (shade,) * 3
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.line(canvas, p0, p1, col, int(rng.integers(1, 3)), cv2.LINE_AA)
        else:
            cv2.rectangle(canvas, p0, (p0[0] + int(rng.integers(4, 25)), p0[1] + int(rng.integers(4, 25))), col, 1)
    return canvas


def _lighting(canvas: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = canvas.shape[:2]
    gx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * scene.light_grad[0]
    gy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * scene.light_grad[1]
    light = scene.gain * (1.0 + gx + gy)
    return canvas * light[..., None] * np.asarray(scene.light_tint, np.float32)


def _finish(img: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if scene.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), scene.blur)
    img = img + rng.normal(0, scene.noise, img.shape).astype(np.float32)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if scene.jpeg:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(scene.jpeg)])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out


def render(scene: Scene, size: tuple[int, int] = DEFAULT_SIZE) -> np.ndarray:
    """Scene -> RGB uint8 image of shape (H, W, 3); ``size`` is (W, H)."""
    w, h = size
    rng = np.random.default_rng(scene.seed)
    canvas = _background(scene, (h, w), rng)
    if scene.person is not None:
        _draw_person(canvas, scene.person)
    for o in scene.objects:
        m = _mask(o.shape, o.x * w, o.y * h, o.size * h / 2, o.angle, (h, w))
        _paint(canvas, m, np.asarray(PALETTE[o.colour]) * np.asarray(o.tint))
    noise_rng = np.random.default_rng((scene.seed, scene.frame))
    return _finish(_lighting(canvas, scene), scene, noise_rng)


# ----------------------------------------------------------------------------- sampling


def _place(rng, n: int, size: float, aspect: float, avoid: list[tuple[float, float, float]]):
    """Non-overlapping centres (fractions of W, H) for n objects of diameter ``size`` (of H)."""
    out: list[tuple[float, float]] = []
    for _ in range(400):
        if len(out) == n:
            return out
        x = rng.uniform(0.6 * size / aspect + 0.02, 1 - 0.6 * size / aspect - 0.02)
        y = rng.uniform(0.6 * size + 0.02, 1 - 0.6 * size - 0.02)
        ok = all(math.hypot((x - ax) * aspect, y - ay) > ar for ax, ay, ar in avoid)
        ok = ok and all(math.hypot((x - bx) * aspect, y - by) > 1.35 * size for bx, by in out)
        if ok:
            out.append((x, y))
    return None


def _nuisance(rng) -> dict:
    return {
        "light_grad": (float(rng.uniform(-0.35, 0.35)), float(rng.uniform(-0.35, 0.35))),
        "light_tint": tuple(float(v) for v in 1.0 + rng.uniform(-0.05, 0.05, 3)),
        "noise": float(rng.uniform(0.0, 0.03)),
        "blur": float(rng.choice([0.0, rng.uniform(0.3, 1.2)])),
        "clutter": int(rng.integers(0, 6)),
        "jpeg": int(rng.choice([0, 0, int(rng.integers(40, 90))])),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def _background_colour(rng) -> tuple[float, float, float]:
    level = rng.uniform(0.3, 0.55)
    tint = rng.uniform(-0.05, 0.05, 3)
    return tuple(float(v) for v in np.clip(level * (1 + tint), 0, 1))


def _pick_kinds(rng, kind: str, n: int, pairs) -> list[tuple[str, str]]:
    if kind == "single":
        return [pairs[int(rng.integers(len(pairs)))]] * n
    return [pairs[int(rng.integers(len(pairs)))] for _ in range(n)]


def _person(rng, aspect: float) -> Person:
    size = rng.uniform(0.26, 0.34)
    return Person(x=float(rng.uniform(0.2, 0.8)), y=float(rng.uniform(0.3, 0.5)), size=float(size),
                  skin=int(rng.integers(len(SKIN))),
                  shirt=tuple(float(v) for v in rng.uniform(0.15, 0.35) * (1 + rng.uniform(-0.06, 0.06, 3))))


def random_scene(rng: np.random.Generator, *, kind: str = "single", count: int | None = None,
                 held_out: str = "exclude", person: bool | None = None, brightness: str | None = None,
                 pairs=None, size: tuple[int, int] = DEFAULT_SIZE) -> Scene:
    """Draw a scene. ``kind``: "single" (1-4 objects of one colour and shape) or "mixed"
    (each object drawn independently). ``held_out`` filters (colour, shape) pairs (see
    ``allowed_pairs``) unless ``pairs`` is given explicitly."""
    pairs = tuple(pairs) if pairs is not None else allowed_pairs(held_out)
    aspect = size[0] / size[1]
    for _ in range(50):
        n = int(count if count is not None else rng.integers(1, 5))
        obj_size = float(rng.uniform(0.2, 0.25))
        who = _person(rng, aspect) if (rng.random() < 0.35 if person is None else person) else None
        avoid = [(who.x, who.y + who.size * 0.5, who.size * 1.1 + 0.7 * obj_size)] if who else []
        centres = _place(rng, n, obj_size, aspect, avoid)
        if centres is not None:
            break
    else:
        raise RuntimeError("could not place objects; ask for fewer")
    objs = tuple(
        Obj(shape=s, colour=c, x=float(x), y=float(y), size=obj_size * float(rng.uniform(0.95, 1.05)),
            angle=float(rng.uniform(-12, 12)), tint=tuple(float(v) for v in 1 + rng.uniform(-0.05, 0.05, 3)))
        for (c, s), (x, y) in zip(_pick_kinds(rng, kind, n, pairs), centres))
    level = brightness or str(rng.choice(BRIGHTNESS))
    gain = float(rng.uniform(0.85, 1.15) if level == "bright" else rng.uniform(0.28, 0.42))
    return Scene(objects=objs, background=_background_colour(rng), brightness=level, gain=gain,
                 person=who, **_nuisance(rng))


# ----------------------------------------------------------------------------- clips


@dataclass
class Clip:
    frames: list[np.ndarray]  # RGB uint8 images
    times: list[float]  # seconds from the clip start
    scenes: list[Scene]
    events: list[tuple[float, str]]  # (time, what changed)


def _moved(scene: Scene, vel: np.ndarray, dt: float, frame: int) -> Scene:
    objs = []
    for o, (vx, vy) in zip(scene.objects, vel):
        x = 0.15 + abs((o.x - 0.15 + vx * dt) % 1.4 - 0.7)  # bounce inside [0.15, 0.85]
        y = 0.2 + abs((o.y - 0.2 + vy * dt) % 1.2 - 0.6)
        objs.append(replace(o, x=float(x), y=float(y), angle=o.angle + 20 * dt))
    return replace(scene, objects=tuple(objs))


def _changed(rng, scene: Scene) -> tuple[Scene, str]:
    what = str(rng.choice(["light", "colour", "remove", "person"]))
    if what == "light":
        level = "dark" if scene.brightness == "bright" else "bright"
        gain = 0.3 if level == "dark" else 1.0
        return replace(scene, brightness=level, gain=gain), f"lights turned {'down' if level == 'dark' else 'up'}"
    if what == "colour":
        new = str(rng.choice([c for c in COLOURS if c != scene.objects[0].colour]))
        return replace(scene, objects=tuple(replace(o, colour=new) for o in scene.objects)), f"objects turned {new}"
    if what == "remove" and len(scene.objects) > 1:
        return replace(scene, objects=scene.objects[:-1]), f"a {scene.objects[-1].shape} disappeared"
    if scene.person is None:
        return replace(scene, person=_person(rng, 4 / 3)), "someone appeared"
    return replace(scene, person=None), "the person left"


def clip(rng: np.random.Generator, n_frames: int = 20, fps: float = 5.0, motion: str = "static",
         base: Scene | None = None, speed: float = 0.25, size: tuple[int, int] = DEFAULT_SIZE) -> Clip:
    """A short sequence. ``motion``: "static" (only sensor noise changes), "move" (objects drift
    at ``speed`` frame-heights per second) or "change" (one change half-way through)."""
    if motion not in ("static", "move", "change"):
        raise ValueError(f"motion must be 'static', 'move' or 'change', got {motion!r}")
    base = base or random_scene(rng, size=size)
    vel = rng.uniform(-1, 1, (len(base.objects), 2)) * speed
    change_at, events, scenes = n_frames // 2, [], []
    cur = base
    for i in range(n_frames):
        if motion == "move":
            cur = _moved(base, vel, i / fps, i)
        elif motion == "change" and i == change_at:
            cur, what = _changed(rng, base)
            events.append((i / fps, what))
        scenes.append(replace(cur, frame=i))
    frames = [render(s, size) for s in scenes]
    return Clip(frames=frames, times=[i / fps for i in range(n_frames)], scenes=scenes, events=events)
