"""Prepare a dataset: list files from the official annotations, frames, TFRecord shards.

Usage::

    python -m tsm_tf.data.prepare DATASET --videos DIR --annotations PATH --out DIR
        [--labels PATH] [--subset train|val] [--split 1] [--frames] [--tfrecords]
        [--short-side 256] [--workers N] [--shards N]

Writes into ``--out``:

- ``classes.txt`` (one class name per line, label order);
- ``{subset}_videos.txt`` (``relative/video label``, paths relative to ``--videos``) for
  datasets shipped as videos; ``{subset}_frames.txt`` (``clip num_frames label``, relative to
  ``--out/frames``, or to ``--videos`` for Something V1 / Jester which ship frames);
- with ``--frames``: ``frames/{clip}/`` JPEGs named with the registry's template, short side
  resized to ``--short-side``;
- with ``--tfrecords``: ``tfrecords/{subset}-XXXXX-of-NNNNN.tfrecord`` and
  ``tfrecords/{subset}-index.json`` (give that JSON to ``build_dataset(list_file=...)``);
- ``{subset}_report.json``: clips done, skipped (already finished), failed (path + reason).

Resumable: finished clips (frame folders are renamed into place when complete) and finished
shards are skipped. A corrupt or missing video is logged and counted, never stops the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from tsm_tf.common.processes import worker_context
from tsm_tf.common.progress import Progress
from tsm_tf.data.annotations import AnnotatedClip, read_annotations
from tsm_tf.data.errors import DataError
from tsm_tf.data.registry import get_dataset_spec
from tsm_tf.data.transforms import short_side_size
from tsm_tf.io_utils import atomic_write_text

log = logging.getLogger("tsm_tf.data.prepare")

FRAME_DATASETS = ("something_v1", "jester")  # shipped as JPEG frame folders
PREPARE_DATASETS = ("kinetics400", "ucf101", "hmdb51", "something_v1", "something_v2", "jester")


@dataclass
class Report:
    stage: str
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[dict] = field(default_factory=list)

    def line(self) -> str:
        return (f"[{self.stage}] {self.processed}/{self.total} "
                f"clips: done {self.done}, skipped {self.skipped}, failed {len(self.failed)}")

    def as_dict(self) -> dict:
        return {"total": self.total, "done": self.done, "skipped": self.skipped,
                "failed": len(self.failed), "failures": self.failed}

    @property
    def processed(self) -> int:
        return self.done + self.skipped + len(self.failed)

    def progress(self) -> Progress:
        """A progress line of this stage (clips per second), at most every second."""
        return Progress(self.total, unit="clips", every=1.0, describe=self.line)


# -- per-clip work (runs in worker processes; OpenCV only) ----------------------------------
def _resize_short(img: np.ndarray, short_side: int | None) -> np.ndarray:
    if not short_side:
        return img
    h, w = img.shape[:2]
    nw, nh = short_side_size(w, h, short_side)
    if (nw, nh) == (w, h):
        return img
    interp = cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR
    return cv2.resize(img, (nw, nh), interpolation=interp)


def iter_video_frames(path: str, short_side: int | None) -> Iterable[np.ndarray]:
    """Every frame of a video (BGR), short side resized. Raises DataError if unreadable."""
    if not os.path.isfile(path):
        raise DataError(f"missing video file {path}", "missing_video")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise DataError(f"undecodable video {path} (OpenCV/FFmpeg cannot open it)",
                            "bad_video")
        n = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            n += 1
            yield _resize_short(img, short_side)
        if n == 0:
            raise DataError(f"undecodable video {path} (no frames decoded)", "bad_video")
    finally:
        cap.release()


def extract_frames(job: tuple) -> tuple[str, str, int, str]:
    """Decode ``video`` into ``out_dir`` JPEGs. Returns ``(clip_id, status, n, message)``."""
    clip_id, video, out_dir, template, short_side, quality = job
    if os.path.isdir(out_dir):
        return clip_id, "skipped", count_frames(out_dir, template), ""
    tmp = f"{out_dir}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        n = 0
        for n, img in enumerate(iter_video_frames(video, short_side), start=1):
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise DataError(f"cannot encode frame {n} of {video}", "encode_failed")
            buf.tofile(os.path.join(tmp, template.format(n)))
        os.replace(tmp, out_dir)  # the folder appears only when complete
        return clip_id, "done", n, ""
    except Exception as e:  # noqa: BLE001 - a bad clip must never stop the run
        shutil.rmtree(tmp, ignore_errors=True)
        return clip_id, "failed", 0, f"{video}: {e}"


def count_frames(folder: str, template: str) -> int:
    """Frames ``1..n`` present in a folder (stops at the first gap)."""
    n = 0
    while os.path.isfile(os.path.join(folder, template.format(n + 1))):
        n += 1
    return n


def clip_jpegs(job: tuple) -> tuple[str, int, list[bytes] | None, str]:
    """JPEG bytes of every frame of a clip, from a frame folder or a video."""
    clip_id, label, source, template, short_side, quality = job
    try:
        if os.path.isdir(source):
            n = count_frames(source, template)
            if n == 0:
                raise DataError(f"no frames named like {template.format(1)} in {source}",
                                "missing_frame")
            blobs = []
            for i in range(1, n + 1):
                with open(os.path.join(source, template.format(i)), "rb") as f:
                    blobs.append(f.read())
        else:
            blobs = []
            for img in iter_video_frames(source, short_side):
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise DataError(f"cannot encode a frame of {source}", "encode_failed")
                blobs.append(buf.tobytes())
        return clip_id, label, blobs, ""
    except Exception as e:  # noqa: BLE001
        return clip_id, label, None, f"{source}: {e}"


# -- stages ---------------------------------------------------------------------------------
def _pool(workers: int):
    if workers <= 1:
        return None
    return worker_context().Pool(workers)


def _imap(pool, fn, jobs):
    return map(fn, jobs) if pool is None else pool.imap_unordered(fn, jobs, chunksize=1)


def run_extract(clips: list[AnnotatedClip], videos_dir: str, frames_dir: str, template: str,
                short_side: int | None, quality: int, pool) -> tuple[Report, dict[str, int]]:
    report = Report("frames", total=len(clips))
    counts: dict[str, int] = {}
    jobs = []
    for c in clips:
        if not c.source:
            report.failed.append({"clip": c.clip_id, "reason": "video not found under --videos"})
            continue
        out_dir = os.path.join(frames_dir, c.clip_id)
        os.makedirs(os.path.dirname(out_dir), exist_ok=True)
        jobs.append((c.clip_id, os.path.join(videos_dir, c.source), out_dir, template,
                     short_side, quality))
    prog = report.progress()
    for clip_id, status, n, msg in _imap(pool, extract_frames, jobs):
        if status == "failed" or n == 0:
            report.failed.append({"clip": clip_id, "reason": msg or "no frames"})
            log.warning("failed: %s", msg)
        else:
            counts[clip_id] = n
            if status == "done":
                report.done += 1
            else:
                report.skipped += 1
        prog.update(report.processed)
    prog.update(report.processed, force=True)
    return report, counts


def run_tfrecords(items: list[tuple[str, int, str]], out_dir: str, subset: str, template: str,
                  short_side: int | None, quality: int, num_shards: int | None, pool) -> Report:
    """``items``: ``(clip_id, label, source path)``. One shard at a time, clips in parallel."""
    from tsm_tf.data.tfrecord import shard_name, write_index, write_shard

    report = Report("tfrecords", total=len(items))
    order = list(items)
    random.Random(0).shuffle(order)  # mix classes across shards, same order on every run
    n_shards = num_shards or max(1, math.ceil(len(order) / 256))
    n_shards = min(n_shards, max(1, len(order)))
    os.makedirs(out_dir, exist_ok=True)
    shards = []
    prog = report.progress()
    for s in range(n_shards):
        part = order[s * len(order) // n_shards:(s + 1) * len(order) // n_shards]
        name = shard_name(subset, s, n_shards)
        path, meta_path = os.path.join(out_dir, name), os.path.join(out_dir, name + ".json")
        if os.path.isfile(path) and os.path.isfile(meta_path):
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
            report.skipped += meta["num_clips"]
            report.failed += meta["failed"]
            shards.append({"file": name, "num_clips": meta["num_clips"]})
            continue
        jobs = [(cid, label, src, template, short_side, quality) for cid, label, src in part]
        failed: list[dict] = []

        def good(results, failed=failed):
            for cid, label, blobs, msg in results:
                if blobs is None:
                    failed.append({"clip": cid, "reason": msg})
                    log.warning("failed: %s", msg)
                    report.failed.append(failed[-1])
                else:
                    report.done += 1
                    yield cid, label, blobs
                prog.update(report.processed)

        results = (pool.imap(clip_jpegs, jobs, chunksize=1) if pool is not None
                   else map(clip_jpegs, jobs))
        n = write_shard(path, good(results))
        atomic_write_text(meta_path, json.dumps({"num_clips": n, "failed": failed}) + "\n")
        shards.append({"file": name, "num_clips": n})
    write_index(os.path.join(out_dir, f"{subset}-index.json"), shards, subset=subset)
    prog.update(report.processed, force=True)
    return report


def packaged_label_file(name: str | None) -> str | None:
    """Path of ``tsm_tf/labels/{name}`` if the package ships it."""
    if not name:
        return None
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "labels",
                        name)
    return path if os.path.isfile(path) else None


def _write_list(path: str, rows: list[str]) -> None:
    atomic_write_text(path, "".join(r + "\n" for r in rows))


def prepare(
    dataset: str,
    videos: str,
    annotations: str,
    out: str,
    labels: str | None = None,
    subset: str = "train",
    split: int = 1,
    frames: bool = False,
    tfrecords: bool = False,
    short_side: int | None = 256,
    workers: int = 1,
    shards: int | None = None,
    quality: int = 90,
) -> dict:
    """Library form of the CLI. Returns the report dict (also written to the out folder)."""
    spec = get_dataset_spec(dataset)
    if spec.name not in PREPARE_DATASETS:
        raise ValueError(f"prepare supports {', '.join(PREPARE_DATASETS)}; got {dataset!r}")
    if not os.path.isdir(videos):
        raise DataError(f"--videos folder not found: {videos}", "missing_video")
    os.makedirs(out, exist_ok=True)
    if labels is None and spec.name == "kinetics400":
        labels = packaged_label_file(spec.label_file)  # fixed label order across subsets
    clips, names = read_annotations(spec.name, annotations, videos, labels, split, subset)
    if len(names) != spec.num_classes:
        log.warning("%d classes in the annotations, the registry expects %d for %s",
                    len(names), spec.num_classes, spec.name)
    atomic_write_text(os.path.join(out, "classes.txt"), "".join(n + "\n" for n in names))
    result: dict = {"dataset": spec.name, "subset": subset, "num_clips": len(clips),
                    "lists": {}, "stages": {}}
    template = spec.frame_template
    pool = _pool(workers)
    try:
        tfr_items: list[tuple[str, int, str]] = []
        if spec.name in FRAME_DATASETS:
            report = Report("list", total=len(clips))
            rows = []
            for c in clips:
                folder = os.path.join(videos, c.source)
                n = count_frames(folder, template) if os.path.isdir(folder) else 0
                if n == 0:
                    report.failed.append({"clip": c.clip_id,
                                          "reason": f"no frames {template.format(1)} in {folder}"})
                    continue
                report.done += 1
                rows.append(f"{c.source} {n} {c.label}")
                tfr_items.append((c.clip_id, c.label, folder))
            path = os.path.join(out, f"{subset}_frames.txt")
            _write_list(path, rows)
            result["lists"]["frames"] = {"path": path, "root": videos}
            result["stages"]["list"] = report.as_dict()
        else:
            present = [c for c in clips if c.source]
            rows = [f"{c.source} {c.label}" for c in present]
            path = os.path.join(out, f"{subset}_videos.txt")
            _write_list(path, rows)
            result["lists"]["videos"] = {"path": path, "root": videos}
            missing = [{"clip": c.clip_id, "reason": "video not found under --videos"}
                       for c in clips if not c.source]
            result["stages"]["list"] = {"total": len(clips), "done": len(present), "skipped": 0,
                                        "failed": len(missing), "failures": missing}
            tfr_items = [(c.clip_id, c.label, os.path.join(videos, c.source)) for c in present]
            if frames:
                frames_dir = os.path.join(out, "frames")
                report, counts = run_extract(clips, videos, frames_dir, template, short_side,
                                             quality, pool)
                print(report.line(), file=sys.stderr)
                rows = [f"{c.clip_id} {counts[c.clip_id]} {c.label}" for c in clips
                        if c.clip_id in counts]
                path = os.path.join(out, f"{subset}_frames.txt")
                _write_list(path, rows)
                result["lists"]["frames"] = {"path": path, "root": frames_dir}
                result["stages"]["frames"] = report.as_dict()
                tfr_items = [(c.clip_id, c.label, os.path.join(frames_dir, c.clip_id))
                             for c in clips if c.clip_id in counts]
        if tfrecords:
            tdir = os.path.join(out, "tfrecords")
            report = run_tfrecords(tfr_items, tdir, subset, template, short_side, quality,
                                   shards, pool)
            print(report.line(), file=sys.stderr)
            result["lists"]["tfrecords"] = {"path": os.path.join(tdir, f"{subset}-index.json")}
            result["stages"]["tfrecords"] = report.as_dict()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    atomic_write_text(os.path.join(out, f"{subset}_report.json"),
                      json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tsm_tf.data.prepare",
        description="Build list files (and optionally frames / TFRecords) from a dataset's "
                    "official annotations.")
    p.add_argument("dataset", choices=PREPARE_DATASETS)
    p.add_argument("--videos", required=True,
                   help="folder of the videos (or of the frame folders for something_v1/jester)")
    p.add_argument("--annotations", required=True,
                   help="official annotation file of the subset (HMDB51: the split folder)")
    p.add_argument("--out", required=True)
    p.add_argument("--labels", default=None,
                   help="class list file (default: found beside the annotations)")
    p.add_argument("--subset", default="train", choices=("train", "val", "test"))
    p.add_argument("--split", type=int, default=1, help="HMDB51 split number (1-3)")
    p.add_argument("--frames", action="store_true", help="extract JPEG frames")
    p.add_argument("--tfrecords", action="store_true", help="write sharded TFRecords")
    p.add_argument("--short-side", type=int, default=256, help="0 keeps the original size")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    p.add_argument("--shards", type=int, default=None, help="default: one per 256 clips")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        res = prepare(a.dataset, a.videos, a.annotations, a.out, labels=a.labels,
                      subset=a.subset, split=a.split, frames=a.frames, tfrecords=a.tfrecords,
                      short_side=a.short_side or None, workers=a.workers, shards=a.shards,
                      quality=a.quality)
    except (DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{res['dataset']} {res['subset']}: {res['num_clips']} clips in the annotations")
    for stage, r in res["stages"].items():
        print(f"  {stage}: done {r['done']}, skipped {r['skipped']}, failed {r['failed']}")
        for f in r["failures"][:10]:
            print(f"    failed {f['clip']}: {f['reason']}")
    for kind, info in res["lists"].items():
        print(f"  {kind}: {info['path']}" + (f" (root {info['root']})" if "root" in info else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
