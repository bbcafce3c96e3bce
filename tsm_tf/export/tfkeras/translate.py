"""Translate a Keras 3 functional model into the same tf_keras network, weights copied.

Layers keep their names, so weights (and, after quantization, the quantizer variables) can be
matched by layer name between models built from the same definition.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tf_keras

from tsm_tf.export.tfkeras.layers import Keras3Op

# The project's weightless layers, run through Keras3Op.
KERAS3_OPS = (
    "TemporalShift", "StreamingTemporalShift", "FoldTime", "UnfoldTime", "AverageConsensus",
    "TemporalMaxPool", "NonLocalAttention",
)


def _conv2d(layer, config):
    return tf_keras.layers.Conv2D(
        config["filters"], config["kernel_size"], strides=config["strides"],
        padding=config["padding"], dilation_rate=config["dilation_rate"],
        groups=config["groups"], use_bias=config["use_bias"],
        activation=config["activation"], name=layer.name,
    )


def _depthwise(layer, config):
    return tf_keras.layers.DepthwiseConv2D(
        config["kernel_size"], strides=config["strides"], padding=config["padding"],
        depth_multiplier=config["depth_multiplier"], dilation_rate=config["dilation_rate"],
        use_bias=config["use_bias"], activation=config["activation"], name=layer.name,
    )


def _batch_norm(layer, config):
    return tf_keras.layers.BatchNormalization(
        axis=config["axis"], momentum=config["momentum"], epsilon=config["epsilon"],
        center=config["center"], scale=config["scale"], name=layer.name,
    )


def _relu(layer, config):
    return tf_keras.layers.ReLU(
        max_value=config["max_value"], negative_slope=config["negative_slope"],
        threshold=config["threshold"], name=layer.name,
    )


def _dense(layer, config):
    return tf_keras.layers.Dense(
        config["units"], activation=config["activation"], use_bias=config["use_bias"],
        name=layer.name,
    )


def _pooling(cls):
    def build(layer, config):
        return cls(config["pool_size"], strides=config["strides"], padding=config["padding"],
                   name=layer.name)

    return build


BUILDERS: dict[str, Callable] = {
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "Dense": _dense,
    "MaxPooling2D": _pooling(tf_keras.layers.MaxPooling2D),
    "AveragePooling2D": _pooling(tf_keras.layers.AveragePooling2D),
    "Activation": lambda layer, c: tf_keras.layers.Activation(c["activation"], name=layer.name),
    "Add": lambda layer, c: tf_keras.layers.Add(name=layer.name),
    "ZeroPadding2D": lambda layer, c: tf_keras.layers.ZeroPadding2D(c["padding"],
                                                                     name=layer.name),
    "GlobalAveragePooling2D": lambda layer, c: tf_keras.layers.GlobalAveragePooling2D(
        keepdims=c.get("keepdims", False), name=layer.name),
    "Dropout": lambda layer, c: tf_keras.layers.Dropout(c["rate"], name=layer.name),
}


def translate_layer(layer: keras.layers.Layer) -> tf_keras.layers.Layer:
    """The tf_keras layer equivalent to the Keras 3 ``layer`` (unbuilt, same name)."""
    kind = type(layer).__name__
    if kind in KERAS3_OPS:
        return Keras3Op.wrap(layer)
    if kind not in BUILDERS:
        raise ValueError(
            f"Layer {layer.name!r} ({kind}) has no tf_keras translation; supported: "
            f"{sorted(BUILDERS) + list(KERAS3_OPS)}."
        )
    return BUILDERS[kind](layer, layer.get_config())


def translate_model(model: keras.Model, *, batch_size: int | None = None) -> tf_keras.Model:
    """Rebuild the Keras 3 functional ``model`` under tf_keras with the same weights.

    Inputs and outputs keep their structure (a tensor, or dicts keyed by name as in
    ``StreamingTSM``); ``batch_size`` overrides the batch dimension of every input.
    """
    tensors: dict[int, object] = {}  # id(Keras 3 tensor) -> tf_keras tensor

    def new_input(tensor):
        batch = tensor.shape[0] if batch_size is None else batch_size
        name = tensor._keras_history.operation.name
        tf_tensor = tf_keras.Input(tensor.shape[1:], batch_size=batch, name=name)
        tensors[id(tensor)] = tf_tensor
        return tf_tensor

    inputs = keras.tree.map_structure(new_input, model.input)

    def lookup(value):
        if isinstance(value, keras.KerasTensor):
            return tensors[id(value)]
        return value

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if len(layer._inbound_nodes) != 1:
            raise ValueError(f"Layer {layer.name!r} is called {len(layer._inbound_nodes)} "
                             "times; translation expects one call per layer.")
        node = layer._inbound_nodes[0]
        args = keras.tree.map_structure(lookup, node.arguments.args)
        # Keras 3 records mask=None and training flags; anything else is not translated.
        kwargs = {k: v for k, v in node.arguments.kwargs.items()
                  if v is not None and k not in ("mask", "training")}
        if kwargs:
            raise ValueError(f"Layer {layer.name!r} is called with keyword arguments "
                             f"{sorted(kwargs)}; translation expects none.")
        target = translate_layer(layer)
        call_input = args[0] if len(args) == 1 else list(args)
        outputs = target(call_input)
        for source, result in zip(node.outputs, keras.tree.flatten(outputs), strict=True):
            tensors[id(source)] = result
        if layer.weights:
            target.set_weights(layer.get_weights())
    outputs = keras.tree.map_structure(lookup, model.output)
    return tf_keras.Model(inputs, outputs, name=model.name)
