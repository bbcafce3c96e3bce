"""The tf_keras translation of a model (the network QAT trains) gives the Keras 3 outputs.

tf_keras and tfmot need ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported, so the
translated networks run in a child process; the Keras 3 reference runs here.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

pytest.importorskip("tf_keras")
pytest.importorskip("tensorflow_model_optimization")

from tsm_tf.models import TSM, StreamingTSM  # noqa: E402

CASES = {  # name -> TSM arguments (tiny: 32 px, 4 frames)
    "resnet_tiny": dict(arch="resnet_tiny", shift="unidirectional"),
    "resnet_tiny_bidirectional": dict(arch="resnet_tiny", shift="bidirectional"),
    "mobilenetv2": dict(arch="mobilenetv2", shift="unidirectional", width_mult=0.35),
}
FRAMES, SIZE, CLASSES = 4, 32, 5

# Child: translate each saved model (and its streaming form) and run the inputs through it.
CHILD = textwrap.dedent("""
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import keras, numpy as np
    from tsm_tf.export.tfkeras import translate_model
    from tsm_tf.models import StreamingTSM
    work = sys.argv[1]
    feeds = np.load(os.path.join(work, "inputs.npz"))
    results = {}
    for name in sys.argv[2:]:
        model = keras.saving.load_model(os.path.join(work, name + ".keras"), compile=False)
        results[name + "/offline"] = translate_model(model)(feeds["clips"]).numpy()
        if model.tsm_config["shift"] == "unidirectional":
            for steps in (1, 2):
                streaming = translate_model(StreamingTSM.from_model(model, frames_per_step=steps))
                prefix = f"{name}/streaming{steps}/"
                feed = {k[len(prefix):]: feeds[k] for k in feeds.files if k.startswith(prefix)}
                for key, value in streaming(feed).items():
                    results[prefix + key] = value.numpy()
    np.savez(os.path.join(work, "outputs.npz"), **results)
""")


def _randomize(model: keras.Model, rng: np.random.Generator) -> None:
    """Non-trivial BatchNorm statistics and classifier, so logits are O(1) (a few units: the
    1e-5 bound is then a relative error of ~1e-6, float32 round-off with another op order)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                               rng.normal(0, 0.1, beta.shape).astype("float32"),
                               rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 1.5, var.shape).astype("float32")])
    fc = model.get_layer("fc")
    std = 0.1 * np.sqrt(128 / fc.get_weights()[0].shape[0])
    fc.set_weights([rng.normal(0, std, w.shape).astype("float32") for w in fc.get_weights()])


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """(Keras 3 reference outputs, tf_keras outputs), keyed alike."""
    work = tmp_path_factory.mktemp("qat_translate")
    rng = np.random.default_rng(0)
    feeds, reference = {"clips": rng.normal(size=(2, FRAMES, SIZE, SIZE, 3))}, {}
    for name, kwargs in CASES.items():
        model = TSM(num_classes=CLASSES, num_segments=FRAMES, input_size=SIZE, dropout=0.0,
                    **kwargs)
        _randomize(model, rng)
        model.save(work / f"{name}.keras")
        reference[f"{name}/offline"] = np.asarray(model(feeds["clips"].astype("float32")))
        if kwargs["shift"] != "unidirectional":
            continue
        for steps in (1, 2):
            streaming = StreamingTSM.from_model(model, frames_per_step=steps)
            prefix = f"{name}/streaming{steps}/"
            feed = {key: rng.normal(size=shape) for key, shape in streaming.state_shapes.items()}
            frames = feeds["clips"][:1, :steps]
            feed[streaming.frame_input_name] = frames[:, 0] if steps == 1 else frames
            feed = {key: value.astype("float32") for key, value in feed.items()}
            feeds.update({prefix + key: value for key, value in feed.items()})
            for key, value in streaming(feed).items():
                reference[prefix + key] = np.asarray(value)
    np.savez(work / "inputs.npz", **{k: np.asarray(v, "float32") for k, v in feeds.items()})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-c", CHILD, str(work), *CASES], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = dict(np.load(work / "outputs.npz"))
    return reference, outputs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_translated_offline_logits_equal_keras3(translated, name):
    reference, outputs = translated
    expected, got = reference[f"{name}/offline"], outputs[f"{name}/offline"]
    assert np.abs(expected).max() > 0.5  # logits of a non-trivial size
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet_tiny", "mobilenetv2"])
@pytest.mark.parametrize("steps", [1, 2])
def test_translated_streaming_outputs_equal_keras3(translated, name, steps):
    reference, outputs = translated
    prefix = f"{name}/streaming{steps}/"
    keys = sorted(k for k in reference if k.startswith(prefix))
    assert sorted(k for k in outputs if k.startswith(prefix)) == keys
    assert prefix + "logits" in keys and len(keys) > 2  # logits and the caches
    for key in keys:
        expected = reference[key]
        # Caches hold raw activations (up to ~10 here): compare them relative to their size.
        atol = 1e-5 if key.endswith("logits") else 1e-5 * max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(outputs[key], expected, rtol=0, atol=atol, err_msg=key)
