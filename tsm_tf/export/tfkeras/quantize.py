"""Quantization-aware wrappers for translated networks (tfmot's default 8-bit scheme).

The project's own layers (``Keras3Op``) are annotated with one of two configs:

* layers that only move values (shift, fold/unfold time, temporal max pool) get a no-op
  config: int8 values pass through them unchanged, with the range of their input;
* layers that compute new values (average consensus, non-local attention) quantize their
  output with a moving-average range, like tfmot's built-in layers.
"""

from __future__ import annotations

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer,  # not exported by tfmot's public API (0.8)
)

from tsm_tf.export.tfkeras.layers import Keras3Op

quantize = tfmot.quantization.keras
# Keras3Op classes whose output values differ from their inputs' (need their own range).
COMPUTING_OPS = ("AverageConsensus", "NonLocalAttention")


class NoOpQuantizeConfig(quantize.QuantizeConfig):
    """Nothing to quantize: the layer only moves values (slices, pads, reshapes, concats)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


class OutputQuantizeConfig(NoOpQuantizeConfig):
    """Quantize the output only (8 bits, asymmetric, moving-average range)."""

    def get_output_quantizers(self, layer):
        return [quantize.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]


def quantize_scope():
    """The scope in which quantized translated models are built and cloned."""
    return quantize.quantize_scope({
        "Keras3Op": Keras3Op,
        "NoOpQuantizeConfig": NoOpQuantizeConfig,
        "OutputQuantizeConfig": OutputQuantizeConfig,
    })


def quantize_translated(model: tf_keras.Model) -> tf_keras.Model:
    """A quantization-aware copy of a translated model (fake-quant weights and activations)."""

    def annotate(layer):
        if isinstance(layer, Keras3Op):
            config = (OutputQuantizeConfig() if layer.keras3_class in COMPUTING_OPS
                      else NoOpQuantizeConfig())
            return quantize.quantize_annotate_layer(layer, quantize_config=config)
        if isinstance(layer, tf_keras.layers.InputLayer):
            return layer
        return quantize.quantize_annotate_layer(layer)

    with quantize_scope():
        annotated = tf_keras.models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        return quantize.quantize_apply(annotated)


def freeze_batch_norm(model: tf_keras.Model) -> tf_keras.Model:
    """Keep BatchNorm statistics and affine parameters fixed during QAT fine-tuning (in place).

    Fine-tuning a few epochs on a small set should adapt the weights to the quantization
    grid, not re-estimate the statistics the float model was trained with.
    """
    for layer in model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
    return model


_RANGE_SUFFIXES = (("output_min", "output_max"), ("post_activation_min", "post_activation_max"),
                   ("_min", "_max"))


def _range_variables(layer):
    """``(min, max)`` variables of the output quantizer of a quantized layer, or ``None``."""
    by_name = {variable.name.split("/")[-1].split(":")[0]: variable for variable in layer.weights}
    for low, high in _RANGE_SUFFIXES:
        lows = [v for n, v in by_name.items() if n.endswith(low)]
        highs = [v for n, v in by_name.items() if n.endswith(high)]
        if len(lows) == 1 and len(highs) == 1:
            return lows[0], highs[0]
    return None


def _inbound(layer) -> list:
    inbound = layer._inbound_nodes[0].inbound_layers
    return inbound if isinstance(inbound, list) else [inbound]


def input_range(layer):
    """``(min, max)`` variables of the range of ``layer``'s first input, found by walking back
    through layers that only move values (pads, max pools, shifts)."""
    source = _inbound(layer)[0]
    while True:
        found = _range_variables(source)
        if found is not None:
            return found
        parents = _inbound(source)
        if not parents or isinstance(source, tf_keras.layers.InputLayer):
            raise ValueError(f"No quantization range found upstream of {layer.name!r}.")
        source = parents[0]


def copy_quantized_weights(source: tf_keras.Model, target: tf_keras.Model) -> None:
    """Copy a quantized offline model's learned weights and ranges into its quantized
    streaming form.

    Wrapped layers match by name. The frame input's quantizer takes the clip input's range;
    each cache input's quantizer takes the range of the tensor entering the same-named shift
    layer in ``source``, so a cache has the same int8 scale on its way out and back in.
    """
    sources = {layer.name: layer for layer in source.layers}
    clip_quantizers = [layer for layer in source.layers
                       if isinstance(layer, QuantizeLayer)]
    for layer in target.layers:
        if not layer.weights:
            continue
        if isinstance(layer, QuantizeLayer):
            fed = _inbound(layer)[0].name
            if fed.startswith("state_"):
                shift = sources[f"quant_{fed[len('state_'):]}"]
                low, high = input_range(shift)
            else:
                if len(clip_quantizers) != 1:
                    raise ValueError("Expected one input quantizer in the offline model.")
                low, high = _range_variables(clip_quantizers[0])
            target_low, target_high = _range_variables(layer)
            target_low.assign(low)
            target_high.assign(high)
            continue
        if layer.name not in sources:
            if _range_variables(layer) is None and all(
                    "optimizer_step" in w.name for w in layer.weights):
                continue  # e.g. the streaming model's "logits" identity: nothing learned
            raise ValueError(f"Layer {layer.name!r} of {target.name!r} is not in {source.name!r}.")
        layer.set_weights(sources[layer.name].get_weights())


# Activation quantizers that follow an exponential moving average (decay 0.999 in tfmot 0.8).
_EMA_SUFFIXES = ("output_min", "output_max", "post_activation_min", "post_activation_max")
EMA_DECAY = 0.999


def _short_name(variable) -> str:
    return variable.name.split("/")[-1].split(":")[0]


def calibrate_ranges(model: tf_keras.Model, batches, *, passes: int = 2) -> None:
    """Set every activation range of a quantized model to the extremes seen on ``batches``.

    tfmot starts activation ranges at [-6, 6] and moves them by 0.1% per training step, so a
    short fine-tuning would keep ranges far from the data. One training-mode forward pass moves
    each range to ``old + (1 - decay) * (batch value - old)``, from which the batch's own value
    is recovered exactly; ranges become the min/max over all batches (a second pass repeats it
    with the upstream ranges already calibrated). Dropout is off while measuring.
    """
    ema = [variable for layer in model.layers for variable in layer.weights
           if _short_name(variable).endswith(_EMA_SUFFIXES)]
    dropouts = [layer.layer for layer in model.layers
                if isinstance(getattr(layer, "layer", None), tf_keras.layers.Dropout)]
    rates = [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    try:
        for _ in range(passes):
            start = [variable.numpy() for variable in ema]
            seen = [None] * len(ema)
            for batch in batches:
                model(batch, training=True)
                for index, (variable, old) in enumerate(zip(ema, start, strict=True)):
                    value = old + (variable.numpy() - old) / (1.0 - EMA_DECAY)
                    low = _short_name(variable).endswith("_min")
                    if seen[index] is not None:
                        value = (np.minimum if low else np.maximum)(seen[index], value)
                    seen[index] = value
                    variable.assign(old)  # each batch measured from the same ranges
            for variable, value in zip(ema, seen, strict=True):
                if value is not None:
                    variable.assign(value)
    finally:
        for layer, rate in zip(dropouts, rates, strict=True):
            layer.rate = rate
