"""``tsm_tf.load_model`` and plain ``keras.saving.load_model`` in a fresh interpreter, for
every model file the package writes: a TSM, a StreamingTSM and a training checkpoint."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tsm_tf.models import TSM, StreamingTSM
from tsm_tf.train.checkpoint import save_checkpoint
from tsm_tf.train.config import TrainConfig, resolve_config

CHECK = r"""
import json, sys
import numpy as np
order, jobs = sys.argv[1], json.loads(sys.argv[2])
if order == "tsm_tf, keras":
    import tsm_tf
    import keras
else:  # "keras, tsm_tf" (or tsm_tf.load_model)
    import keras
    import tsm_tf
results = []
for path, inputs in jobs:
    if order == "tsm_tf.load_model":
        model = tsm_tf.load_model(path)
    else:
        model = keras.saving.load_model(path, compile=False)
    with np.load(inputs) as f:
        x = {k: f[k] for k in f.files}
    out = model(x["video"] if "video" in x else x, training=False)
    out = out["logits"] if isinstance(out, dict) else out
    results.append({"class": type(model).__name__, "logits": np.asarray(out).tolist()})
print(json.dumps(results))
"""


def _load_in_fresh_python(order, files):
    """Load each ``(path, inputs, ...)`` of ``files`` in one new interpreter."""
    jobs = json.dumps([[str(f[0]), str(f[1])] for f in files])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", CHECK, order, jobs],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"{order} failed:\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Three files and, for each, inputs and the logits of the model that wrote it."""
    tmp = tmp_path_factory.mktemp("saved")
    keras.utils.set_random_seed(5)
    cfg = resolve_config(TrainConfig(arch="resnet_tiny", num_segments=4, input_size=32,
                                     shift="unidirectional", dropout=0.0))
    tsm = TSM(arch=cfg.arch, num_classes=cfg.num_classes, num_segments=4, input_size=32,
              shift="unidirectional", dropout=0.0)
    rng = np.random.default_rng(0)
    video = rng.normal(size=(2, 4, 32, 32, 3)).astype("float32")
    files = {}

    tsm.save(tmp / "model.keras")
    np.savez(tmp / "video.npz", video=video)
    files["tsm"] = (tmp / "model.keras", tmp / "video.npz", "TSM",
                    np.asarray(tsm(video, training=False)))

    online = StreamingTSM.from_model(tsm)
    online.save(tmp / "online.keras")
    states = online.init_states()
    frame_inputs = {"image": video[:1, 0], **{k: np.asarray(v) for k, v in states.items()}}
    np.savez(tmp / "frame.npz", **frame_inputs)
    files["streaming"] = (tmp / "online.keras", tmp / "frame.npz", "StreamingTSM",
                          np.asarray(online(frame_inputs, training=False)["logits"]))

    # A training-state checkpoint: weights moved away from any fresh initialisation.
    tsm.set_weights([w + rng.normal(scale=0.01, size=w.shape).astype(w.dtype)
                     for w in tsm.get_weights()])
    opt = keras.optimizers.Adam()
    opt.build(tsm.trainable_variables)
    save_checkpoint(tmp / "epoch_001.npz", tsm, opt, {"epoch": 1, "step": 4,
                                                      "config": cfg.to_dict()})
    files["checkpoint"] = (tmp / "epoch_001.npz", tmp / "video.npz", "TSM",
                           np.asarray(tsm(video, training=False)))
    return files


def _check(results, files):
    assert len(results) == len(files)
    for got, (path, _, cls, expected) in zip(results, files, strict=True):
        assert got["class"] == cls, path
        np.testing.assert_allclose(np.asarray(got["logits"]), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=str(path))


@pytest.mark.slow
def test_tsm_tf_load_model_loads_every_file_it_writes(saved):
    files = [saved[k] for k in ("tsm", "streaming", "checkpoint")]
    _check(_load_in_fresh_python("tsm_tf.load_model", files), files)


@pytest.mark.slow
@pytest.mark.parametrize("order", ["tsm_tf, keras", "keras, tsm_tf"])
def test_plain_keras_load_model_after_import_tsm_tf(saved, order):
    files = [saved[k] for k in ("tsm", "streaming")]
    _check(_load_in_fresh_python(order, files), files)


def test_import_tsm_tf_does_not_import_keras():
    code = "import sys, tsm_tf; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


def test_load_model_errors_name_the_file(tmp_path):
    import tsm_tf

    with pytest.raises(FileNotFoundError, match="nope.keras"):
        tsm_tf.load_model(tmp_path / "nope.keras")
    (tmp_path / "m.tflite").write_bytes(b"x")
    with pytest.raises(ValueError, match="m.tflite"):
        tsm_tf.load_model(tmp_path / "m.tflite")
