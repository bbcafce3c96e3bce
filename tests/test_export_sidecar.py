"""Sidecar metadata: embedded in the flatbuffer without changing the model, read back by path."""

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from test_streaming import trained_like, video

from tsm_tf.export import LiteRTModel, convert_to_tflite
from tsm_tf.export.flatbuffer import read_flatbuffer
from tsm_tf.sidecar import (
    METADATA_NAME,
    SidecarError,
    embed_metadata,
    extract_metadata,
    read_sidecar,
    sidecar_bytes,
)


@pytest.fixture(scope="module")
def flatbuffer():
    return convert_to_tflite(trained_like("resnet_tiny", shift="bidirectional", seed=5))


def sidecar(**extra):
    return {"format": "tsm_tf.sidecar", "version": 1, "labels": ["a", "é"], **extra}


def test_embed_then_extract_round_trip_keeps_the_model(flatbuffer):
    payload = bytes(range(256)) * 3 + b"tail"  # any bytes, including zeros
    embedded = embed_metadata(flatbuffer, "tsm_tf", payload)
    assert extract_metadata(embedded, "tsm_tf") == payload
    assert extract_metadata(flatbuffer, "tsm_tf") is None
    before, after = read_flatbuffer(flatbuffer), read_flatbuffer(embedded)
    assert after.metadata_names == [*before.metadata_names, "tsm_tf"]
    for name in before.metadata_names:  # the converter's own entries survive
        assert extract_metadata(embedded, name) == extract_metadata(flatbuffer, name)
    assert after.op_names() == before.op_names()
    assert after.tensors == before.tensors
    clip = video(seed=9)
    expected = LiteRTModel(flatbuffer)({"video": clip})["logits"]
    np.testing.assert_array_equal(LiteRTModel(embedded)({"video": clip})["logits"], expected)
    # The interpreter sees the same graph.
    ops = [op["op_name"] for op in Interpreter(model_content=embedded)._get_ops_details()]
    assert ops == before.op_names()


def test_embedding_again_replaces_the_entry(flatbuffer):
    once = embed_metadata(flatbuffer, "tsm_tf", b"first")
    twice = embed_metadata(embed_metadata(once, "other", b"x"), "tsm_tf", b"second, longer")
    assert extract_metadata(twice, "tsm_tf") == b"second, longer"
    assert extract_metadata(twice, "other") == b"x"
    assert read_flatbuffer(twice).metadata_names.count("tsm_tf") == 1
    clip = video(seed=10)
    np.testing.assert_array_equal(LiteRTModel(twice)({"video": clip})["logits"],
                                  LiteRTModel(flatbuffer)({"video": clip})["logits"])


def test_read_sidecar_from_json_or_embedded(tmp_path, flatbuffer):
    data = sidecar(model={"name": "m"})
    model = tmp_path / "m.tflite"
    model.write_bytes(embed_metadata(flatbuffer, METADATA_NAME, sidecar_bytes(data)))
    assert read_sidecar(model) == data  # embedded only
    (tmp_path / "m.json").write_bytes(sidecar_bytes(data))
    assert read_sidecar(model) == data
    assert read_sidecar(tmp_path / "m.json") == data
    (tmp_path / "m.json").write_text(json.dumps(sidecar(model={"name": "changed"})))
    with pytest.raises(SidecarError, match="differs from the sidecar embedded"):
        read_sidecar(model)
    # A .json beside a model without metadata is enough.
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(flatbuffer)
    (tmp_path / "plain.json").write_bytes(sidecar_bytes(data))
    assert read_sidecar(plain) == data


def test_read_sidecar_errors(tmp_path, flatbuffer):
    with pytest.raises(SidecarError, match="No model or sidecar"):
        read_sidecar(tmp_path / "missing.tflite")
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(flatbuffer)
    with pytest.raises(SidecarError, match="no 'bare.json' beside it and no embedded"):
        read_sidecar(bare)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(SidecarError, match="not a TFLite flatbuffer"):
        read_sidecar(junk)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(SidecarError, match="not valid UTF-8 JSON"):
        read_sidecar(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(SidecarError, match="is not a tsm_tf.sidecar sidecar"):
        read_sidecar(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(json.dumps({"format": "tsm_tf.sidecar", "version": 9}))
    with pytest.raises(SidecarError, match="version 9"):
        read_sidecar(tmp_path / "future.json")
