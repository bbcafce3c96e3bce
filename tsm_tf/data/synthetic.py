"""A small synthetic video dataset whose classes only temporal order can tell apart.

The stand-in for Something-Something: a bright, elongated shape (an isosceles triangle or a
bar) on a smooth, mildly noisy colour gradient either moves (left, right, up, down), grows or
shrinks, or turns (clockwise or counter-clockwise). The 8 classes form 4 pairs, each the exact
time-reverse of the other, so:

* single frames do not tell the class: a "moving_left" clip is generated as a "moving_right"
  clip played backwards, so the *set* of frames of a clip has the same distribution in both
  classes of a pair, and a per-frame model with average consensus (TSN) cannot beat chance
  between them;
* the attributes that do not define the class (position on the other axis, size, angle) are
  held still at a value drawn from the same per-frame distribution as a moving attribute, so a
  single frame's position, size and angle have the same distribution in all 8 classes;
* the object is easy to see (one channel >= 229 of 255, the background <= 100 + noise), so a
  small network trained from scratch learns the motion quickly (appearance clutter is what
  makes such data hard, not the temporal reasoning).

What an order-free model *can* see is which attribute spreads over a clip's frames (a mover's
frames show several positions, a grower's several sizes), i.e. the pair but not the class
within it: the Bayes limit of any order-free model is 50%, and a TSN with average consensus of
per-frame logits can only exploit this weakly (in practice it stays near 1/8).

Output, in the reference TSM frame-folder format (``relative_path num_frames label``)::

    DIR/frames/<clip_id>/img_00001.jpg ... img_<F>.jpg   RGB JPEG, numbered from 1
    DIR/train.txt, DIR/val.txt                             "frames/<clip_id> <F> <label>"
    DIR/classes.txt                                        one class name per line, label order
    DIR/meta.json, DIR/README.txt                          generation parameters

Every clip is written to a temporary folder and renamed into place, so an interrupted run
leaves no half-written clip behind; a re-run with the same parameters skips finished clips and
regenerates anything missing. Clip ``i`` of a split depends only on (seed, split, i), so the
same seed gives the same bytes.

Example:
    >>> summary = generate_synthetic_dataset("/tmp/synth", num_train=96, num_val=32)
    >>> summary["classes"][:2]
    ('moving_left', 'moving_right')

Command line::

    python -m tsm_tf.data.synthetic --out runs/synthetic [--num-train 960 --num-val 240
        --frames 16 --size 64 --seed 0 --classes moving_left moving_right --workers 2]
"""

from __future__ import annotations

import argparse
import colorsys
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tsm_tf.common.processes import worker_context
from tsm_tf.io_utils import atomic_write_text

# Label order of the full set. Pairs (2k, 2k+1) are time-reverses of each other.
SYNTHETIC_CLASSES: tuple[str, ...] = (
    "moving_left",
    "moving_right",
    "moving_up",
    "moving_down",
    "growing",
    "shrinking",
    "rotating_clockwise",
    "rotating_counterclockwise",
)

# For each class: the attribute that changes and whether it runs backwards in time.
# Image coordinates: x to the right, y down, angle measured from +x towards +y, so an
# increasing angle turns clockwise on screen.
_CLASS_MOTION: dict[str, tuple[str, bool]] = {
    "moving_right": ("x", False),
    "moving_left": ("x", True),
    "moving_down": ("y", False),
    "moving_up": ("y", True),
    "growing": ("size", False),
    "shrinking": ("size", True),
    "rotating_clockwise": ("angle", False),
    "rotating_counterclockwise": ("angle", True),
}

GENERATOR_VERSION = "tsm-tf-synthetic-1"
FRAME_TEMPLATE = "img_{:05d}.jpg"
_SPLIT_CODE = {"train": 0, "val": 1}
# Parameters that change the pixels of clip i: a finished directory must match them.
_CONTENT_KEYS = ("generator", "seed", "num_frames", "size", "classes", "jpeg_quality")


@dataclass(frozen=True)
class SyntheticConfig:
    """Ranges of the per-clip random draws, as fractions of the frame side where it applies."""

    min_radius: float = 0.10  # object circumradius, smallest (fraction of side)
    max_radius: float = 0.24  # largest, also the margin kept from the border
    grow_ratio: tuple[float, float] = (1.5, 2.2)  # radius at last / first frame of "growing"
    travel: tuple[float, float] = (0.25, 0.40)  # distance moved over the clip (fraction of side)
    turn_degrees: tuple[float, float] = (90.0, 180.0)  # total rotation over the clip
    background_range: tuple[int, int] = (10, 100)  # gradient end colours, per channel
    noise_std: float = 4.0  # per-pixel Gaussian noise, fresh every frame
    object_saturation: tuple[float, float] = (0.7, 1.0)  # HSV saturation of the object colour
    object_value: tuple[float, float] = (0.9, 1.0)  # HSV value: the object is always bright

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ----------------------------------------------------------------------------- drawing


def _ramp(rng: np.random.Generator, num_frames: int, lo: float, hi: float, span: float):
    """Linear values from a random start to start + span, staying inside [lo, hi]."""
    start = rng.uniform(lo, hi - span)
    return start + span * np.linspace(0.0, 1.0, num_frames)


def _sample_trajectories(
    rng: np.random.Generator, class_name: str, num_frames: int, size: int, cfg: SyntheticConfig
) -> dict[str, np.ndarray]:
    """Per-frame x, y, radius (pixels) and angle (radians) for one clip, each of shape [F]."""
    F = num_frames
    margin = cfg.max_radius * size + 1.0
    lo, hi = margin, size - 1.0 - margin

    def position() -> np.ndarray:
        return _ramp(rng, F, lo, hi, rng.uniform(*cfg.travel) * size)

    def radius() -> np.ndarray:
        ratio = rng.uniform(*cfg.grow_ratio)
        r0 = rng.uniform(cfg.min_radius, cfg.max_radius / ratio) * size
        return r0 * ratio ** np.linspace(0.0, 1.0, F)

    def angle() -> np.ndarray:
        turn = np.deg2rad(rng.uniform(*cfg.turn_degrees))
        return rng.uniform(0.0, 2 * np.pi) + turn * np.linspace(0.0, 1.0, F)

    makers = {"x": position, "y": position, "size": radius, "angle": angle}
    moving, backwards = _CLASS_MOTION[class_name]
    tracks = {}
    for name, make in makers.items():  # fixed order: the random stream does not depend on class
        values = make()
        if name == moving:
            tracks[name] = values[::-1] if backwards else values
        else:
            # Still, at one frame's value of the same kind of track: same per-frame law.
            tracks[name] = np.full(F, values[rng.integers(F)])
    return tracks


def _background(rng: np.random.Generator, size: int, cfg: SyntheticConfig) -> np.ndarray:
    """A linear colour gradient at a random angle, float32 [size, size, 3] RGB."""
    c0 = rng.uniform(*cfg.background_range, size=3)
    c1 = rng.uniform(*cfg.background_range, size=3)
    theta = rng.uniform(0.0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    proj = np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5)  # in [-0.71, 0.71]
    t = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    return (c0 + (c1 - c0) * t[..., None]).astype(np.float32)


def _unit_shape(shape: str) -> np.ndarray:
    """Polygon [V, 2] pointing along +x, centroid at 0, farthest vertex at distance 1."""
    if shape == "triangle":  # isosceles, apex along +x: 1.87 long for 1 wide
        corners = np.deg2rad([0.0, 150.0, 210.0])
    else:  # "bar": a rectangle, 2.1 long for 1 wide
        half = np.deg2rad(25.0)
        corners = np.array([half, np.pi - half, np.pi + half, -half])
    poly = np.stack([np.cos(corners), np.sin(corners)], axis=1)
    poly -= poly.mean(axis=0)  # vertex mean = area centroid for triangles and rectangles
    return poly / np.linalg.norm(poly, axis=1).max()


_UNIT_SHAPES = {name: _unit_shape(name) for name in ("triangle", "bar")}


def _shape_vertices(shape: str, cx: float, cy: float, r: float, a: float) -> np.ndarray:
    """Polygon [V, 2] (x, y): ``shape`` scaled to radius r, turned by a, centroid at (cx, cy).

    Scaling and turning keep the centroid fixed, so growing or rotating moves no mass.
    """
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, s], [-s, c]])  # row vectors: [x, y] @ rot turns by +a (clockwise)
    return _UNIT_SHAPES[shape] @ rot * r + np.array([cx, cy])


_SUBPIXEL_BITS = 4


def render_clip(
    rng: np.random.Generator,
    class_name: str,
    num_frames: int,
    size: int,
    cfg: SyntheticConfig | None = None,
) -> np.ndarray:
    """Draw one clip of class ``class_name``: uint8 [num_frames, size, size, 3] RGB."""
    cfg = cfg or SyntheticConfig()
    tracks = _sample_trajectories(rng, class_name, num_frames, size, cfg)
    shape = ("triangle", "bar")[int(rng.integers(2))]
    hue = rng.uniform(0.0, 1.0)
    rgb = colorsys.hsv_to_rgb(
        hue, rng.uniform(*cfg.object_saturation), rng.uniform(*cfg.object_value)
    )
    colour = tuple(float(255.0 * c) for c in rgb)
    background = _background(rng, size, cfg)
    scale = float(1 << _SUBPIXEL_BITS)

    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        canvas = background.copy()
        poly = _shape_vertices(
            shape, tracks["x"][t], tracks["y"][t], tracks["size"][t], tracks["angle"][t]
        )
        pts = np.round(poly * scale).astype(np.int32)[None]  # [1, V, 2] fixed point
        cv2.fillPoly(canvas, pts, colour, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
        canvas += rng.normal(0.0, cfg.noise_std, size=canvas.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return frames


# ----------------------------------------------------------------------------- writing


def _clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLIT_CODE[split], index])


def _clip_id(split: str, index: int) -> str:
    return f"{split}_{index:05d}"


def _is_complete(clip_dir: Path, num_frames: int) -> bool:
    try:
        names = set(os.listdir(clip_dir))
    except (FileNotFoundError, NotADirectoryError):
        return False
    return names == {FRAME_TEMPLATE.format(i) for i in range(1, num_frames + 1)}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already; avoid oversubscribing


def _write_clip(job: tuple) -> bool:
    """Render and write one clip unless it is already complete. Returns True if written."""
    frames_dir, split, index, label_name, seed, num_frames, size, quality, cfg = job
    final = Path(frames_dir) / _clip_id(split, index)
    if _is_complete(final, num_frames):
        return False
    if final.exists():  # incomplete or tampered: redo from scratch
        shutil.rmtree(final) if final.is_dir() else final.unlink()
    frames = render_clip(_clip_rng(seed, split, index), label_name, num_frames, size, cfg)
    tmp = Path(frames_dir) / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for t, frame in enumerate(frames, start=1):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RuntimeError(f"OpenCV could not encode frame {t} of {final}")
        (tmp / FRAME_TEMPLATE.format(t)).write_bytes(buf.tobytes())
    os.rename(tmp, final)
    return True


def _resolve_classes(classes: Iterable[str] | None) -> tuple[str, ...]:
    if classes is None:
        return SYNTHETIC_CLASSES
    names = []
    for item in classes:  # accept ["a", "b"] and ["a,b"]
        names += [n.strip() for n in str(item).split(",") if n.strip()]
    unknown = [n for n in names if n not in _CLASS_MOTION]
    if unknown or not names:
        raise ValueError(
            f"Unknown synthetic class name(s) {unknown or names!r}. "
            f"Choose from: {', '.join(SYNTHETIC_CLASSES)}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Synthetic class names must be unique. Received: {names}")
    return tuple(names)


def _check_existing(out_dir: Path, meta: dict, overwrite: bool) -> None:
    """Refuse to mix clips made with other content parameters into ``out_dir``."""
    meta_path = out_dir / "meta.json"
    if not meta_path.exists():
        if (out_dir / "frames").exists() and any((out_dir / "frames").iterdir()):
            raise ValueError(
                f"{out_dir}/frames exists but {meta_path} does not, so it was not made by this "
                "generator (or its first run was cut off before starting). Use an empty --out "
                "directory, or delete that folder."
            )
        return
    try:
        old = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(
            f"Cannot read {meta_path} ({err}). Delete it or use another --out."
        ) from err
    diff = {k: (old.get(k), meta[k]) for k in _CONTENT_KEYS if old.get(k) != meta[k]}
    if not diff:
        return
    if not overwrite:
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise ValueError(
            f"{out_dir} holds a synthetic dataset made with other parameters ({changes}; see "
            f"{meta_path}). Use another --out directory, or pass --overwrite to replace it."
        )
    shutil.rmtree(out_dir / "frames", ignore_errors=True)
    for name in ("train.txt", "val.txt", "classes.txt", "meta.json", "README.txt"):
        (out_dir / name).unlink(missing_ok=True)


_README = """Synthetic temporal-order dataset written by tsm_tf.data.synthetic ({generator}).

Classes ({num_classes}): {class_list}
A bright shape on a smooth noisy background moves, grows or turns; the classes come in pairs
that are time-reverses of each other, so only temporal order tells them apart.

Layout (reference TSM frame-folder format):
  frames/<clip_id>/img_00001.jpg ...  {num_frames} RGB JPEG frames per clip, {size}x{size} px
  train.txt ({num_train} clips), val.txt ({num_val} clips): "frames/<clip_id> <num_frames> <label>"
  classes.txt: class names in label order
  meta.json: all generation parameters (seed {seed})

Regenerate: python -m tsm_tf.data.synthetic --out DIR --num-train {num_train} --num-val {num_val} \\
    --frames {num_frames} --size {size} --seed {seed}
"""


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate_synthetic_dataset(
    out_dir: str | os.PathLike,
    num_train: int = 960,
    num_val: int = 240,
    num_frames: int = 16,
    size: int = 64,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    jpeg_quality: int = 95,
    workers: int | None = None,
    overwrite: bool = False,
    verbose: bool = True,
) -> dict:
    """Write the synthetic dataset to ``out_dir`` (resumable) and return a summary dict.

    Labels cycle through ``classes`` (clip i has label i % num_classes), so classes are
    balanced to within one clip. ``workers`` defaults to the CPU count (at most 4); 1 runs in
    this process. The summary has ``out_dir, classes, num_train, num_val, num_frames, size,
    seed, written, skipped, seconds, train_list, val_list``.

    Example:
        >>> import tempfile
        >>> out = tempfile.mkdtemp()
        >>> s = generate_synthetic_dataset(out, num_train=16, num_val=8, num_frames=8,
        ...                                size=32, workers=1, verbose=False)
        >>> open(s["train_list"]).readline().split()
        ['frames/train_00000', '8', '0']
    """
    names = _resolve_classes(classes)
    if num_train < 0 or num_val < 0 or num_train + num_val == 0:
        raise ValueError(
            f"Need num_train >= 0, num_val >= 0, not both 0. Received: {num_train}, {num_val}"
        )
    if num_frames < 2:
        raise ValueError(
            f"num_frames must be >= 2 (motion needs two frames). Received: {num_frames}"
        )
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels so the object stays visible. Received: {size}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in [1, 100]. Received: {jpeg_quality}")

    cfg = SyntheticConfig()
    out = Path(out_dir)
    meta = {
        "generator": GENERATOR_VERSION,
        "seed": int(seed),
        "num_frames": int(num_frames),
        "size": int(size),
        "classes": list(names),
        "jpeg_quality": int(jpeg_quality),
        "num_train": int(num_train),
        "num_val": int(num_val),
        "frame_template": FRAME_TEMPLATE,
        "list_format": "frames/<clip_id> <num_frames> <label>",
        "config": cfg.as_dict(),
        "complete": False,
    }
    out.mkdir(parents=True, exist_ok=True)
    _check_existing(out, meta, overwrite)
    frames_dir = out / "frames"
    frames_dir.mkdir(exist_ok=True)
    for stale in frames_dir.glob(".tmp-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2) + "\n")

    splits = {"train": num_train, "val": num_val}
    jobs = [
        (
            str(frames_dir),
            split,
            i,
            names[i % len(names)],
            int(seed),
            num_frames,
            size,
            jpeg_quality,
            cfg,
        )
        for split, n in splits.items()
        for i in range(n)
    ]
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    start = time.perf_counter()
    written = 0
    step = max(1, len(jobs) // 10)
    if verbose:
        _progress(f"synthetic: {len(jobs)} clips ({num_frames} x {size}x{size}) -> {out}")

    def report(done: int) -> None:
        if verbose and (done % step == 0 or done == len(jobs)):
            _progress(
                f"synthetic: {done}/{len(jobs)} clips, {written} written, "
                f"{time.perf_counter() - start:.1f}s"
            )

    if workers > 1 and len(jobs) > 1:
        with worker_context().Pool(workers, initializer=_init_worker) as pool:
            for done, was_written in enumerate(pool.imap(_write_clip, jobs, chunksize=8), 1):
                written += int(was_written)
                report(done)
    else:
        for done, job in enumerate(jobs, 1):
            written += int(_write_clip(job))
            report(done)

    lists = {}
    for split, n in splits.items():
        path = out / f"{split}.txt"
        lines = [f"frames/{_clip_id(split, i)} {num_frames} {i % len(names)}\n" for i in range(n)]
        atomic_write_text(path, "".join(lines))
        lists[split] = str(path)
    atomic_write_text(out / "classes.txt", "".join(f"{n}\n" for n in names))
    atomic_write_text(
        out / "README.txt",
        _README.format(num_classes=len(names), class_list=", ".join(names), **meta),
    )
    meta["complete"] = True
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2) + "\n")
    seconds = time.perf_counter() - start
    if verbose:
        _progress(
            f"synthetic: done in {seconds:.1f}s ({written} clips written, "
            f"{len(jobs) - written} already there)"
        )
    return {
        "out_dir": str(out),
        "classes": names,
        "num_train": num_train,
        "num_val": num_val,
        "num_frames": num_frames,
        "size": size,
        "seed": seed,
        "written": written,
        "skipped": len(jobs) - written,
        "seconds": seconds,
        "train_list": lists["train"],
        "val_list": lists["val"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tsm_tf.data.synthetic",
        description="Write the synthetic temporal-order dataset (reference TSM frame format).",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--num-train", type=int, default=960)
    parser.add_argument("--num-val", type=int, default=240)
    parser.add_argument("--frames", type=int, default=16, help="frames per clip")
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--classes",
        nargs="+",
        default=None,
        help=f"subset of: {' '.join(SYNTHETIC_CLASSES)} (label order as given)",
    )
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: CPUs, max 4)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset made with other parameters in --out",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        summary = generate_synthetic_dataset(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            num_frames=args.frames,
            size=args.size,
            seed=args.seed,
            classes=args.classes,
            jpeg_quality=args.jpeg_quality,
            workers=args.workers,
            overwrite=args.overwrite,
            verbose=not args.quiet,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in summary.items() if k != "classes"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
