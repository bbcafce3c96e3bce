"""prepare: the six datasets from tiny annotation files in their official formats, then the
pipeline on what prepare wrote (frame folders, raw videos, TFRecords)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_data_fixtures import clip_indices, write_frames, write_text, write_video

from tsm_tf.data import DataError, build_dataset, get_dataset_spec, read_list_file
from tsm_tf.data.annotations import (
    read_hmdb51,
    read_kinetics,
    read_semicolon_csv,
    read_something_v2,
    read_ucf101,
)
from tsm_tf.data.prepare import main, prepare

T, S = 4, 32


def small(name):  # the real class count would need hundreds of classes in the tiny files
    return get_dataset_spec(name, num_classes=4)


def check_pipeline(spec, root, list_file, n_clips, labels):
    ds = build_dataset(spec, root, list_file, num_segments=T, input_size=S, batch_size=8,
                       training=False)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (n_clips, T, S, S, 3)
    assert sorted(y.tolist()) == sorted(labels)
    return x, y


# -- Kinetics: CSV + class folders of mp4 -----------------------------------------------------
def test_kinetics_frames_videos_tfrecords(tmp_path, capsys):
    vids = tmp_path / "videos"
    write_video(str(vids / "abseiling" / "yt1_000010_000020.mp4"), 20)
    write_video(str(vids / "air drumming" / "yt-2_000000_000010.mp4"), 16)
    write_video(str(vids / "air drumming" / "yt3_000003_000013.mp4"), 12)
    write_text(str(vids / "abseiling" / "yt4_000000_000010.mp4"), "corrupt")
    csv = write_text(str(tmp_path / "kinetics400_train.csv"),
                     "label,youtube_id,time_start,time_end,split,is_cc\n"
                     "abseiling,yt1,10,20,train,0\n"
                     '"air drumming",yt-2,0,10,train,0\n'
                     "air drumming,yt3,3,13,train,0\n"
                     "abseiling,yt4,0,10,train,0\n"
                     "abseiling,gone,0,10,train,0\n")
    out = tmp_path / "out"
    labels = write_text(str(tmp_path / "labels.txt"), "# tiny label map\nabseiling\nair drumming\n")
    rc = main(["kinetics400", "--videos", str(vids), "--annotations", csv, "--out", str(out),
               "--labels", labels, "--frames", "--tfrecords", "--short-side", "36",
               "--workers", "2"])
    assert rc == 0
    text = capsys.readouterr()
    assert "frames: done 3, skipped 0, failed 2" in text.out
    assert "yt4_000000_000010.mp4" in text.out  # the corrupt video is named, run went on
    rep = json.loads((out / "train_report.json").read_text())
    assert rep["stages"]["tfrecords"]["done"] == 3
    assert (out / "classes.txt").read_text() == "abseiling\nair drumming\n"
    # frames: short side resized, registry template, counts in the list
    recs = read_list_file(str(out / "train_frames.txt"), root=str(out / "frames"))
    assert sorted((os.path.basename(r.path), r.num_frames, r.label) for r in recs) == [
        ("yt-2_000000_000010", 16, 1), ("yt1_000010_000020", 20, 0),
        ("yt3_000003_000013", 12, 1)]
    import cv2
    img = cv2.imread(str(out / "frames" / "yt1_000010_000020" / "img_00020.jpg"))
    assert img.shape[:2] == (36, 48)
    spec = small("kinetics400")
    xf, yf = check_pipeline(spec, str(out / "frames"), str(out / "train_frames.txt"), 3,
                            [0, 1, 1])
    # the video list still holds the corrupt video: the pipeline skips and counts it
    check_pipeline(spec, str(vids), str(out / "train_videos.txt"), 3, [0, 1, 1])
    xt, yt = check_pipeline(spec, None, str(out / "tfrecords" / "train-index.json"), 3,
                            [0, 1, 1])
    # dense sampling (the Kinetics default): stride 64 // T from frame 1, wrapping short clips
    lengths = {0: [20], 1: [16, 12]}
    for x, y in ((xf, yf), (xt, yt)):
        for clip, label in zip(x, y, strict=True):
            assert clip_indices(clip) in [[(16 * j) % n + 1 for j in range(T)]
                                          for n in lengths[int(label)]]
    # resumable: a second run skips every finished clip and shard
    rc = main(["kinetics400", "--videos", str(vids), "--annotations", csv, "--out", str(out),
               "--labels", labels, "--frames", "--tfrecords", "--short-side", "36",
               "--workers", "1"])
    text = capsys.readouterr().out
    assert "frames: done 0, skipped 3, failed 2" in text
    assert "tfrecords: done 0, skipped 3, failed 0" in text


# -- Something-Something V2: JSON + webm -------------------------------------------------------
def test_something_v2(tmp_path):
    vids = tmp_path / "20bn-something-something-v2"
    names = {"Pushing something from left to right": "0",
             "Pushing something from right to left": "1",
             "Holding something next to something": "2", "Opening something": "3"}
    write_text(str(tmp_path / "something-something-v2-labels.json"), json.dumps(names))
    items = [{"id": "101", "label": "pushing cup from left to right",
              "template": "Pushing [something] from left to right", "placeholders": ["cup"]},
             {"id": "102", "label": "holding pen next to mug",
              "template": "Holding [something] next to [something]",
              "placeholders": ["pen", "mug"]},
             {"id": "103", "label": "opening a box", "template": "Opening [something]",
              "placeholders": ["a box"]}]
    ann = write_text(str(tmp_path / "something-something-v2-validation.json"),
                     json.dumps(items))
    for vid, n in (("101", 10), ("102", 14), ("103", 9)):
        write_video(str(vids / f"{vid}.webm"), n)
    clips, cls = read_something_v2(ann)
    assert [(c.source, c.label) for c in clips] == [("101.webm", 0), ("102.webm", 2),
                                                    ("103.webm", 3)]
    assert cls[1] == "Pushing something from right to left"
    out = tmp_path / "out"
    res = prepare("something_v2", str(vids), ann, str(out), subset="val", frames=True,
                  short_side=None)
    assert res["stages"]["frames"]["done"] == 3
    assert (out / "frames" / "102" / "000014.jpg").is_file()  # {:06d}.jpg template
    spec = small("something_v2")
    x, y = check_pipeline(spec, str(out / "frames"), str(out / "val_frames.txt"), 3, [0, 2, 3])
    for clip, n in zip(x, (10, 14, 9), strict=True):  # uniform centres, list order
        assert clip_indices(clip) == [int(n / T / 2 + n / T * i) + 1 for i in range(T)]
    check_pipeline(spec, str(vids), str(out / "val_videos.txt"), 3, [0, 2, 3])


# -- Something-Something V1 and Jester: ;-CSV + shipped frame folders --------------------------
@pytest.mark.parametrize("name, prefix", [("something_v1", "something-something-v1"),
                                          ("jester", "jester-v1")])
def test_frame_datasets(tmp_path, name, prefix):
    frames = tmp_path / "frames"
    classes = ["Swiping Left", "Doing other things", "Thumb Up", "No gesture"]
    write_text(str(tmp_path / f"{prefix}-labels.csv"), "\n".join(classes) + "\n")
    ann = write_text(str(tmp_path / f"{prefix}-train.csv"),
                     "1;Thumb Up\n2;Swiping Left\n3;Doing other things\n4;No gesture\n")
    for vid, n in (("1", 12), ("2", 9), ("3", 7)):  # clip 4 has no frames on disk
        write_frames(str(frames / vid), n, template="{:05d}.jpg")
    clips, cls = read_semicolon_csv(ann)
    assert cls == sorted(classes)  # alphabetical, as the reference label tools do
    res = prepare(name, str(frames), ann, str(tmp_path / "out"), tfrecords=True)
    assert res["stages"]["list"]["done"] == 3 and res["stages"]["list"]["failed"] == 1
    lst = (tmp_path / "out" / "train_frames.txt").read_text().splitlines()
    # sorted classes: Doing other things 0, No gesture 1, Swiping Left 2, Thumb Up 3
    assert lst == ["1 12 3", "2 9 2", "3 7 0"]
    spec = small(name)
    assert not spec.allow_flip
    check_pipeline(spec, str(frames), str(tmp_path / "out" / "train_frames.txt"), 3, [3, 2, 0])
    check_pipeline(spec, None, str(tmp_path / "out" / "tfrecords" / "train-index.json"), 3,
                   [3, 2, 0])


# -- UCF101: classInd + trainlist / testlist, avi ----------------------------------------------
def test_ucf101(tmp_path):
    vids = tmp_path / "UCF-101"
    split = tmp_path / "ucfTrainTestlist"
    write_text(str(split / "classInd.txt"), "1 ApplyEyeMakeup\n2 Archery\n3 BabyCrawling\n")
    train = write_text(str(split / "trainlist01.txt"),
                       "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                       "BabyCrawling/v_BabyCrawling_g09_c02.avi 3\n")
    test = write_text(str(split / "testlist01.txt"), "Archery/v_Archery_g01_c01.avi\n")
    write_video(str(vids / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi"), 11)
    write_video(str(vids / "BabyCrawling" / "v_BabyCrawling_g09_c02.avi"), 13)
    write_video(str(vids / "Archery" / "v_Archery_g01_c01.avi"), 15)
    assert [c.label for c in read_ucf101(train)[0]] == [0, 2]
    assert [c.label for c in read_ucf101(test)[0]] == [1]  # label from the folder name
    res = prepare("ucf101", str(vids), train, str(tmp_path / "out"), frames=True,
                  tfrecords=True, short_side=None, workers=2)
    assert res["stages"]["frames"]["done"] == 2
    assert (tmp_path / "out" / "frames" / "BabyCrawling" / "v_BabyCrawling_g09_c02" /
            "img_00013.jpg").is_file()
    spec = small("ucf101")
    check_pipeline(spec, str(tmp_path / "out" / "frames"),
                   str(tmp_path / "out" / "train_frames.txt"), 2, [0, 2])
    check_pipeline(spec, str(vids), str(tmp_path / "out" / "train_videos.txt"), 2, [0, 2])
    prepare("ucf101", str(vids), test, str(tmp_path / "out"), subset="val")
    check_pipeline(spec, str(vids), str(tmp_path / "out" / "val_videos.txt"), 1, [1])


# -- HMDB51: per-class split files with 0/1/2 tags ---------------------------------------------
def test_hmdb51(tmp_path):
    vids = tmp_path / "hmdb51"
    splits = tmp_path / "testTrainMulti_7030_splits"
    write_text(str(splits / "brush_hair_test_split1.txt"), "a_brush_0.avi 1 \nb_brush_1.avi 2 \n")
    write_text(str(splits / "cartwheel_test_split1.txt"), "c_cart_0.avi 1 \nd_cart_1.avi 0 \n")
    write_text(str(splits / "cartwheel_test_split2.txt"), "c_cart_0.avi 2 \n")
    for cls, v, n in (("brush_hair", "a_brush_0", 10), ("brush_hair", "b_brush_1", 9),
                      ("cartwheel", "c_cart_0", 12), ("cartwheel", "d_cart_1", 8)):
        write_video(str(vids / cls / f"{v}.avi"), n)
    tr, cls = read_hmdb51(str(splits), 1, "train")
    assert cls == ["brush_hair", "cartwheel"]
    assert [(c.source, c.label) for c in tr] == [("brush_hair/a_brush_0.avi", 0),
                                                 ("cartwheel/c_cart_0.avi", 1)]
    assert [c.source for c in read_hmdb51(str(splits), 1, "val")[0]] == [
        "brush_hair/b_brush_1.avi"]
    prepare("hmdb51", str(vids), str(splits), str(tmp_path / "out"), frames=True,
            short_side=None)
    spec = small("hmdb51")
    check_pipeline(spec, str(tmp_path / "out" / "frames"),
                   str(tmp_path / "out" / "train_frames.txt"), 2, [0, 1])
    check_pipeline(spec, str(vids), str(tmp_path / "out" / "train_videos.txt"), 2, [0, 1])


# -- bad annotations --------------------------------------------------------------------------
def test_bad_annotations_are_clear(tmp_path, capsys):
    bad_csv = write_text(str(tmp_path / "k.csv"), "label,youtube_id\nx,y\n")
    with pytest.raises(DataError, match=r"k.csv:1: expected a header"):
        read_kinetics(bad_csv, str(tmp_path))
    bad_sc = write_text(str(tmp_path / "a-labels.csv"), "A\n")
    bad_tr = write_text(str(tmp_path / "a-train.csv"), "1;A\n2 B\n")
    with pytest.raises(DataError, match=r"a-train.csv:2: expected 'id;class name'"):
        read_semicolon_csv(bad_tr, bad_sc)
    unknown = write_text(str(tmp_path / "u.csv"), "1;Z\n")
    with pytest.raises(DataError, match=r"u.csv:1: class 'Z' not in"):
        read_semicolon_csv(unknown, bad_sc)
    rc = main(["jester", "--videos", str(tmp_path / "nope"), "--annotations", bad_tr,
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "--videos folder not found" in capsys.readouterr().err
