"""Input-pipeline throughput: clips per second from frame folders, raw videos and TFRecords.

Makes its own small data set in a temp dir (Kinetics-like: 340x256 frames, 64-frame clips),
then times ``tsm_tf.data.build_dataset`` in training mode (TSN sampling, multi-scale crop,
flip, normalisation) for each source.

Usage::

    python benchmarks/input_pipeline.py [--clips 48] [--num-segments 8] [--input-size 224]
        [--batch-size 8] [--epochs 2] [--json OUT] [--train-step-rate STEPS_PER_S]

``--train-step-rate``: training steps per second of the default model (measured elsewhere);
when given, the table says whether each source keeps up with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Run from a checkout without installing: make the repository importable.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from tsm_tf.data import build_dataset, get_dataset_spec  # noqa: E402
from tsm_tf.data.tfrecord import shard_name, write_index, write_shard  # noqa: E402
from tsm_tf.io_utils import atomic_write_json  # noqa: E402


def make_clip_frames(rng: np.random.Generator, n: int, h: int, w: int) -> list[np.ndarray]:
    """A smooth textured background with a bright square moving across it (BGR uint8)."""
    small = rng.integers(0, 255, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    side = h // 5
    x0, y0 = rng.integers(0, w - side), rng.integers(0, h - side)
    vx, vy = rng.integers(-4, 5, size=2)
    frames = []
    for t in range(n):
        img = bg.copy()
        x = int(np.clip(x0 + vx * t, 0, w - side))
        y = int(np.clip(y0 + vy * t, 0, h - side))
        img[y:y + side, x:x + side] = (40, 220, 250)
        frames.append(img)
    return frames


def make_data(root: str, clips: int, frames: int, h: int, w: int, shards: int) -> dict:
    rng = np.random.default_rng(0)
    frame_lines, video_lines, records = [], [], []
    for k in range(clips):
        imgs = make_clip_frames(rng, frames, h, w)
        label = k % 10
        d = os.path.join(root, "frames", f"clip{k:04d}")
        os.makedirs(d, exist_ok=True)
        blobs = []
        for i, img in enumerate(imgs, start=1):
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            buf.tofile(os.path.join(d, f"img_{i:05d}.jpg"))
            blobs.append(buf.tobytes())
        records.append((f"clip{k:04d}", label, blobs))
        os.makedirs(os.path.join(root, "videos"), exist_ok=True)
        vpath = os.path.join(root, "videos", f"clip{k:04d}.mp4")
        wr = cv2.VideoWriter(vpath, cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
        for img in imgs:
            wr.write(img)
        wr.release()
        frame_lines.append(f"clip{k:04d} {frames} {label}")
        video_lines.append(f"clip{k:04d}.mp4 {label}")
    with open(os.path.join(root, "frames.txt"), "w") as f:
        f.write("\n".join(frame_lines) + "\n")
    with open(os.path.join(root, "videos.txt"), "w") as f:
        f.write("\n".join(video_lines) + "\n")
    tdir = os.path.join(root, "tfr")
    os.makedirs(tdir)
    meta = []
    for s in range(shards):
        name = shard_name("train", s, shards)
        n = write_shard(os.path.join(tdir, name), records[s::shards])
        meta.append({"file": name, "num_clips": n})
    write_index(os.path.join(tdir, "train-index.json"), meta)
    sizes = {
        "frames_MB": sum(len(b) for _, _, bl in records for b in bl) / 1e6,
        "videos_MB": sum(os.path.getsize(os.path.join(root, "videos", p))
                         for p in os.listdir(os.path.join(root, "videos"))) / 1e6,
    }
    return sizes


def time_source(name: str, kwargs: dict, epochs: int) -> dict:
    ds = build_dataset(**kwargs)
    it = iter(ds)
    next(it)  # warm-up: graph tracing, thread pools, first decodes
    clips, t0, c0 = 0, time.perf_counter(), time.process_time()
    for x, _ in it:
        clips += int(x.shape[0])
    for _ in range(epochs - 1):
        for x, _ in ds:
            clips += int(x.shape[0])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time per clip (all threads) is the figure that survives a busy machine.
    return {"source": name, "clips": clips, "seconds": dt, "clips_per_s": clips / dt,
            "ms_per_clip": 1000 * dt / max(clips, 1),
            "cpu_ms_per_clip": 1000 * cpu / max(clips, 1), "skipped": ds.errors.total,
            "load_avg_1min": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=48)
    p.add_argument("--frames", type=int, default=64, help="frames per clip")
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=340)
    p.add_argument("--num-segments", type=int, default=8)
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--sources", default="frames,videos,tfrecords")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--train-step-rate", type=float, default=None,
                   help="training steps/s of the default model (to compare against)")
    a = p.parse_args(argv)

    spec = get_dataset_spec("custom", num_classes=10, frame_template="img_{:05d}.jpg")
    common = dict(dataset=spec, num_segments=a.num_segments, input_size=a.input_size,
                  batch_size=a.batch_size, training=True, seed=0, sampling="uniform")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tsm_bench_") as root:
        t0 = time.perf_counter()
        sizes = make_data(root, a.clips, a.frames, a.height, a.width, a.shards)
        print(f"made {a.clips} clips x {a.frames} frames {a.width}x{a.height} in "
              f"{time.perf_counter() - t0:.1f}s (JPEG {sizes['frames_MB']:.1f} MB, "
              f"mp4 {sizes['videos_MB']:.1f} MB)", file=sys.stderr)
        srcs = {
            "frames": dict(root=os.path.join(root, "frames"),
                           list_file=os.path.join(root, "frames.txt")),
            "videos": dict(root=os.path.join(root, "videos"),
                           list_file=os.path.join(root, "videos.txt")),
            "tfrecords": dict(list_file=os.path.join(root, "tfr", "train-index.json")),
        }
        for name in a.sources.split(","):
            rows.append(time_source(name, {**common, **srcs[name]}, a.epochs))
            print(f"  {name}: {rows[-1]['clips_per_s']:.1f} clips/s", file=sys.stderr)

    need = None
    if a.train_step_rate:
        need = a.train_step_rate * a.batch_size  # clips/s the trainer consumes
    print(f"\nInput pipeline, T={a.num_segments}, {a.input_size}x{a.input_size}, batch "
          f"{a.batch_size}, {os.cpu_count()} CPUs, training augmentation")
    head = f"{'source':<10} {'clips/s':>9} {'ms/clip':>9} {'CPU ms/clip':>12} {'clips':>6}"
    if need:
        head += f" {'keeps up with ' + f'{need:.1f} clips/s':>28}"
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (f"{r['source']:<10} {r['clips_per_s']:>9.1f} {r['ms_per_clip']:>9.1f} "
                f"{r['cpu_ms_per_clip']:>12.1f} {r['clips']:>6}")
        if need:
            line += f" {'yes' if r['clips_per_s'] >= need else 'no':>28}"
        print(line)
    print(f"load average during the runs: {max(r['load_avg_1min'] for r in rows):.1f} "
          f"(on {os.cpu_count()} CPUs; above that the wall-clock figures are lower bounds)")
    if not need:
        print("training step rate of the default model: not given (--train-step-rate)")
    result = {
        "benchmark": "input_pipeline",
        "config": vars(a),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "data": sizes,
        "results": rows,
        "train_step_rate": a.train_step_rate,
        "train_clips_per_s_needed": need,
    }
    if a.json:
        atomic_write_json(a.json, result, indent=1)
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
