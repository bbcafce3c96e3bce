"""The tf.data pipeline on tiny frame folders, videos and TFRecords.

Every frame encodes its index in its colour (see test_data_fixtures), so the tests check
which frames were sampled, not just shapes.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf
from test_data_fixtures import (
    B_VALUE,
    G_VALUE,
    clip_indices,
    frame_bgr,
    write_frames,
    write_text,
    write_video,
)

from tsm_tf.data import DataError, build_dataset, dataset_size, get_dataset_spec
from tsm_tf.data.tfrecord import write_index, write_shard

T, S = 4, 32
LENGTHS = [20, 13, 9, 26, 17, 11]


def centres(n: int, t: int) -> list[int]:
    tick = n / t
    return [int(tick / 2 + tick * x) + 1 for x in range(t)] if n > t else [1] * t


def starts(n: int, t: int) -> list[int]:
    return [int(n / t * x) + 1 for x in range(t)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    frame_lines, video_lines = [], []
    for k, n in enumerate(LENGTHS):
        write_frames(str(root / "frames" / f"c{k}"), n)
        ext = [".mp4", ".avi", ".webm"][k % 3]
        write_video(str(root / "videos" / f"c{k}{ext}"), n)
        frame_lines.append(f"c{k} {n} {k % 3}")
        video_lines.append(f"c{k}{ext} {k % 3}")
    write_text(str(root / "frames.txt"), "\n".join(frame_lines) + "\n")
    write_text(str(root / "videos.txt"), "\n".join(video_lines) + "\n")
    # TFRecords holding the same clips (JPEG bytes of the frame files)
    os.makedirs(root / "tfr")
    clips = []
    for k, n in enumerate(LENGTHS):
        folder = root / "frames" / f"c{k}"
        clips.append((f"c{k}", k % 3, [(folder / f"img_{i:05d}.jpg").read_bytes()
                                       for i in range(1, n + 1)]))
    n0 = write_shard(str(root / "tfr" / "val-00000-of-00002.tfrecord"), clips[:3])
    n1 = write_shard(str(root / "tfr" / "val-00001-of-00002.tfrecord"), clips[3:])
    write_index(str(root / "tfr" / "val-index.json"),
                [{"file": "val-00000-of-00002.tfrecord", "num_clips": n0},
                 {"file": "val-00001-of-00002.tfrecord", "num_clips": n1}])
    return root


def spec(**kw):
    return get_dataset_spec("custom", num_classes=3, frame_template="img_{:05d}.jpg", **kw)


def collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("source", ["frames", "videos", "tfr"])
def test_eval_samples_segment_centres(data, source):
    if source == "tfr":
        kw = {"list_file": str(data / "tfr" / "val-index.json")}
    else:
        kw = {"root": str(data / source), "list_file": str(data / f"{source}.txt")}
    ds = build_dataset(spec(), num_segments=T, input_size=S, batch_size=4, training=False,
                       **kw)
    assert ds.num_samples == 6 and ds.steps_per_epoch == 2
    x, y = collect(ds)
    assert x.shape == (6, T, S, S, 3) and x.dtype == np.float32 and y.dtype == np.int32
    # no shuffle in evaluation: list order (TFRecords: shard order)
    assert y.tolist() == [k % 3 for k in range(6)]
    for k, n in enumerate(LENGTHS):
        assert clip_indices(x[k]) == centres(n, T), (source, k)
    rgb = (x * [0.229, 0.224, 0.225] + [0.485, 0.456, 0.406]) * 255
    assert abs(rgb[..., 1].mean() - G_VALUE) < 4 and abs(rgb[..., 2].mean() - B_VALUE) < 4


def test_frames_and_videos_agree_in_training(data):
    kw = dict(num_segments=T, input_size=S, batch_size=3, training=True, seed=7,
              deterministic=True)
    xf, yf = collect(build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"),
                                   **kw))
    xv, yv = collect(build_dataset(spec(), str(data / "videos"), str(data / "videos.txt"),
                                   **kw))
    assert yf.tolist() == yv.tolist()
    assert sorted(yf.tolist()) == sorted(k % 3 for k in range(6))  # shuffled, all there
    for a, b in zip(xf, xv, strict=True):
        assert clip_indices(a) == clip_indices(b)
    np.testing.assert_allclose(xf, xv, atol=0.15)  # same crops; codecs differ slightly


def test_training_sampling_is_random_per_segment_and_seeded(data):
    def run(seed):
        ds = build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"),
                           num_segments=T, input_size=S, batch_size=6, seed=seed,
                           deterministic=True)
        return collect(ds)

    x1, y1 = run(1)
    x1b, y1b = run(1)
    x2, _ = run(2)
    np.testing.assert_array_equal(x1, x1b)
    assert y1.tolist() == y1b.tolist()
    assert not np.array_equal(x1, x2)
    label_to_len = {}
    for k, n in enumerate(LENGTHS):
        label_to_len.setdefault(k % 3, []).append(n)
    for clip, label in zip(x1, y1, strict=True):
        idx = clip_indices(clip)
        ok = False
        for n in label_to_len[label]:
            avg = n // T
            ok |= all(s * avg + 1 <= i <= (s + 1) * avg for s, i in enumerate(idx))
        assert ok, idx


def test_epochs_differ_with_a_seed(data):
    ds = build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"), num_segments=T,
                       input_size=S, batch_size=6, seed=3, deterministic=True)
    e1, e2 = collect(ds), collect(ds)
    assert not np.array_equal(e1[0], e2[0])  # new shuffle and augmentation every epoch


def test_multi_view_eval(data):
    ds = build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"), num_segments=T,
                       input_size=S, batch_size=2, training=False, num_clips=2, num_crops=3,
                       full_res=True, scale_size=40)
    x, y = collect(ds)
    assert x.shape == (6, 6, T, 40, 40, 3)  # [N, clips*crops, T, S, S, 3], S = scale_size
    for k, n in enumerate(LENGTHS):
        for v in range(6):
            want = centres(n, T) if v < 3 else starts(n, T)  # clip-major: "twice sample"
            if n > T:
                assert clip_indices(x[k, v]) == want


def test_dense_ten_clips(data):
    ds = build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"), num_segments=T,
                       input_size=S, batch_size=6, training=False, sampling="dense",
                       num_clips=10)
    x, _ = collect(ds)
    assert x.shape == (6, 10, T, S, S, 3)
    for k, n in enumerate(LENGTHS):  # all clips shorter than 64: one window from 0, wrapped
        for v in range(10):
            assert clip_indices(x[k, v]) == [(16 * j) % n + 1 for j in range(T)]


def test_flip_swaps_labels_with_the_map(tmp_path):
    # frames with a left-to-right green ramp, so a flip is visible
    for name in ("a", "b"):
        d = tmp_path / name
        os.makedirs(d)
        for i in range(1, 9):
            img = frame_bgr(i)
            img[..., 1] = np.linspace(0, 255, img.shape[1])[None, :].astype(np.uint8)
            cv2.imwrite(str(d / f"{i:06d}.jpg"), img)
    lst = write_text(str(tmp_path / "l.txt"), "a 8 86\nb 8 10\n")
    sp = get_dataset_spec("something_v2")
    seen = set()
    for seed in range(6):
        ds = build_dataset(sp, str(tmp_path), lst, num_segments=T, input_size=S, batch_size=2,
                           seed=seed, allow_flip=True)
        x, y = collect(ds)
        for clip, label in zip(x, y, strict=True):
            flipped = clip[0, S // 2, 0, 1] > clip[0, S // 2, -1, 1]
            if label in (86, 87):
                assert label == (87 if flipped else 86)
            else:
                assert label == 10
            seen.add(bool(flipped))
    assert seen == {True, False}
    # the default Something-Something policy never flips
    x, y = collect(build_dataset(sp, str(tmp_path), lst, num_segments=T, input_size=S,
                                 batch_size=2, seed=0))
    assert sorted(y.tolist()) == [10, 86]
    assert all(c[0, S // 2, 0, 1] < c[0, S // 2, -1, 1] for c in x)


# -- bad input ---------------------------------------------------------------------------------
@pytest.fixture()
def broken(tmp_path):
    write_frames(str(tmp_path / "good1"), 8)
    write_frames(str(tmp_path / "good2"), 8)
    write_frames(str(tmp_path / "short"), 4)  # list claims 8
    write_frames(str(tmp_path / "corrupt"), 8)
    # Frames 3 and 4 (one whole TSN segment of 4 over 8 frames): random training sampling
    # always hits one of them, whatever the global TF seed; frame 4 is a centre frame.
    write_text(str(tmp_path / "corrupt" / "img_00003.jpg"), "not a jpeg")
    write_text(str(tmp_path / "corrupt" / "img_00004.jpg"), "not a jpeg")
    write_text(str(tmp_path / "bad.mp4"), "not a video")
    lst = write_text(str(tmp_path / "l.txt"),
                     "good1 8 0\nshort 8 1\ncorrupt 8 2\nbad.mp4 1\ngood2 8 1\n")
    return tmp_path, lst


def test_skip_mode_counts_bad_clips_in_eval(broken):
    root, lst = broken
    # check_files=False: let the bad clips reach the decoders
    ds = build_dataset(spec(), str(root), lst, num_segments=T, input_size=S, batch_size=8,
                       training=False, check_files=False)
    x, y = collect(ds)
    assert y.tolist() == [0, 1]
    counts = ds.errors.counts
    assert (counts["missing_frame"], counts["bad_image"], counts["bad_video"]) == (1, 1, 1)
    rep = ds.errors.report()
    assert "corrupt/img_00004.jpg" in rep and "bad.mp4" in rep and f"{lst}:2" in rep


def test_skip_mode_replaces_bad_clips_in_training(broken):
    root, lst = broken
    ds = build_dataset(spec(), str(root), lst, num_segments=T, input_size=S, batch_size=5,
                       seed=0, check_files=False)
    x, y = collect(ds)
    assert x.shape[0] == 5  # epoch keeps its length: bad clips replaced by good ones
    assert set(y.tolist()) <= {0, 1}
    assert ds.errors.total >= 3


def test_raise_mode_names_the_file(broken):
    root, lst = broken
    # the up-front check finds the folder with missing frames before any tf.data work
    with pytest.raises(DataError, match=r"l.txt:2: missing frame file .*short/img_00008.jpg"):
        build_dataset(spec(), str(root), lst, training=False, on_error="raise")
    # a decoding error stops iteration; the message names the file and the list line
    ds = build_dataset(spec(), str(root), lst, num_segments=T, input_size=S, batch_size=8,
                       training=False, on_error="raise", check_files=False)
    with pytest.raises(tf.errors.OpError, match=r"img_0000[4-8].jpg.*l.txt:[23]"):
        collect(ds)
    # skip mode with the check: the short clip is counted before loading
    ds = build_dataset(spec(), str(root), lst, training=False, num_segments=T, input_size=S)
    assert ds.num_samples == 4 and ds.errors.counts["missing_frame"] == 1


def test_errors_before_tf_data(tmp_path):
    write_frames(str(tmp_path / "a"), 8)
    bad_label = write_text(str(tmp_path / "l1.txt"), "a 8 0\na 8 3\n")
    with pytest.raises(DataError, match=r"l1.txt:2: label 3 outside \[0, 3\)"):
        build_dataset(spec(), str(tmp_path), bad_label, on_error="raise")
    ds = build_dataset(spec(), str(tmp_path), bad_label, batch_size=1, num_segments=T,
                       input_size=S)
    assert ds.num_samples == 1 and ds.errors.counts["bad_label"] == 1
    missing = write_text(str(tmp_path / "l2.txt"), "a 8 0\nnope 8 1\n")
    with pytest.raises(DataError, match="l2.txt:2: frame folder .*nope not found"):
        build_dataset(spec(), str(tmp_path), missing, on_error="raise")
    short = write_text(str(tmp_path / "l3.txt"), "a 8 0\na 2 1\n")
    with pytest.raises(DataError, match="l3.txt:2.*fewer than 3"):
        build_dataset(spec(), str(tmp_path), short, on_error="raise")
    malformed = write_text(str(tmp_path / "l4.txt"), "a 8 0\na eight 1\n")
    with pytest.raises(DataError, match="l4.txt:2: malformed"):
        build_dataset(spec(), str(tmp_path), malformed, on_error="raise")
    empty = write_text(str(tmp_path / "l5.txt"), "\n")
    with pytest.raises(DataError, match="no clips"):
        build_dataset(spec(), str(tmp_path), empty)
    with pytest.raises(ValueError, match="Accepted names"):
        build_dataset("kinetics600", str(tmp_path), empty)


def test_clip_shorter_than_segments(tmp_path):
    write_frames(str(tmp_path / "a"), 3)
    lst = write_text(str(tmp_path / "l.txt"), "a 3 0\n")
    ds = build_dataset(spec(), str(tmp_path), lst, num_segments=8, input_size=S, batch_size=1,
                       seed=0)
    x, _ = collect(ds)
    assert clip_indices(x[0]) == [1] * 8  # the reference repeats frame 1 (avg duration 0)
    ds = build_dataset(spec(), str(tmp_path), lst, num_segments=8, input_size=S, batch_size=1,
                       training=False, num_clips=2)
    x, _ = collect(ds)
    assert clip_indices(x[0, 0]) == [int(3 / 8 / 2 + 3 / 8 * i) + 1 for i in range(8)]


def _count_video_reads(monkeypatch):
    import tsm_tf.data.pipeline as pipeline

    largest_index_read = []
    real_read = pipeline.read_video_frames

    def counting_read(path, indices):
        largest_index_read.append(max(indices))
        return real_read(path, indices)

    monkeypatch.setattr(pipeline, "read_video_frames", counting_read)
    return largest_index_read


def test_over_counted_video_is_resampled_once_then_read_with_its_true_length(
        tmp_path, monkeypatch):
    write_video(str(tmp_path / "v.mp4"), 6)
    lst = write_text(str(tmp_path / "l.txt"), "v.mp4 10 0\n")  # the list claims 10 frames
    largest_index_read = _count_video_reads(monkeypatch)
    kw = dict(num_segments=T, input_size=S, batch_size=1, training=False)
    first, _ = collect(build_dataset(spec(), str(tmp_path), lst, **kw))
    # a new dataset, as training builds one per epoch, still knows the true length
    second, _ = collect(build_dataset(spec(), str(tmp_path), lst, **kw))
    # one read runs past frame 6, then one within it; then a single read
    assert len(largest_index_read) == 3
    assert largest_index_read[0] > 6 and max(largest_index_read[1:]) <= 6
    assert clip_indices(first[0]) == clip_indices(second[0]) == centres(6, T)


def test_training_clip_of_an_over_counted_video_does_not_depend_on_the_cache(
        tmp_path, monkeypatch):
    write_video(str(tmp_path / "v.mp4"), 20)
    lst = write_text(str(tmp_path / "l.txt"), "v.mp4 40 0\n")
    largest_index_read = _count_video_reads(monkeypatch)
    kw = dict(num_segments=T, input_size=S, batch_size=1, training=True, seed=3)
    cold, _ = collect(build_dataset(spec(), str(tmp_path), lst, **kw))  # short read first
    warm, _ = collect(build_dataset(spec(), str(tmp_path), lst, **kw))  # count known
    assert len(largest_index_read) == 3  # the cold pass needed two reads
    np.testing.assert_array_equal(cold, warm)


# -- distribution -------------------------------------------------------------------------------
def test_input_context_shards_and_splits_batches(data):
    labels = []
    for pid in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pid,
                                         num_replicas_in_sync=2)
        ds = build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"),
                           num_segments=T, input_size=S, batch_size=4, training=False,
                           input_context=ctx)
        x, y = collect(ds)
        assert ds.num_samples == 3 and ds.steps_per_epoch == 2  # per-replica batch 2
        assert dataset_size(spec(), str(data / "frames"), str(data / "frames.txt"),
                            training=False, batch_size=4, input_context=ctx) == 2
        assert [b.shape[0] for b, _ in ds] == [2, 1]
        labels += y.tolist()
    assert sorted(labels) == sorted(k % 3 for k in range(6))


def test_distribute_datasets_from_function(data):
    strategy = tf.distribute.get_strategy()
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: build_dataset(spec(), str(data / "frames"), str(data / "frames.txt"),
                                  num_segments=T, input_size=S, batch_size=2, seed=0,
                                  input_context=ctx))
    x, y = next(iter(dist))
    assert tuple(x.shape) == (2, T, S, S, 3) and tuple(y.shape) == (2,)


def test_dataset_size(data):
    args = (spec(), str(data / "frames"), str(data / "frames.txt"))
    assert dataset_size(*args) == 6
    assert dataset_size(*args, batch_size=4) == 1  # training drops the remainder
    assert dataset_size(*args, training=False, batch_size=4) == 2
    assert dataset_size(spec(), list_file=str(data / "tfr" / "val-index.json")) == 6
    assert dataset_size(spec(), list_file=str(data / "tfr" / "*.tfrecord")) == 6
