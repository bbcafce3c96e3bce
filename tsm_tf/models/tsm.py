"""TSM video classifiers: the offline model (a clip in, class logits out) and its streaming
form (one frame plus named shift caches in, logits plus new caches out)."""

from __future__ import annotations

import keras
import numpy as np

from tsm_tf.common.streaming import streaming_problem
from tsm_tf.common.validation import check_choice
from tsm_tf.layers import AverageConsensus, FoldTime, StatefulTemporalShift, UnfoldTime
from tsm_tf.layers.shift import check_num_segments, check_shift_args
from tsm_tf.models.blocks import (
    CLASSIFIER_LAYER,
    FRAME_LOGITS_LAYER,
    POOL_LAYER,
    SHIFT_MODES,
    SHIFT_PLACES,
    ShiftPlan,
)
from tsm_tf.models.mobilenet_v2 import mobilenet_v2_backbone
from tsm_tf.models.resnet import RESNET_LAYOUTS, default_shift_every, resnet_backbone

ARCHITECTURES = (*RESNET_LAYOUTS, "mobilenetv2")
# What validate_config assumes for keys a partial configuration leaves out (TSM's defaults).
_CONFIG_DEFAULTS = dict(shift="bidirectional", shift_div=8, shift_place="blockres",
                        temporal_pool=False, non_local=False, dropout=0.5, width_mult=1.0)


def _input_hw(input_size) -> tuple[int, int]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        size = (input_size, input_size)
    else:
        size = tuple(input_size)
    if len(size) != 2 or not all(isinstance(v, int) and v >= 32 for v in size):
        raise ValueError(
            "`input_size` must be an int or (height, width), each >= 32. "
            f"Received: input_size={input_size!r}"
        )
    return size


def validate_config(config: dict) -> None:
    """Check a model configuration (``TSM.tsm_config`` keys); raise ``ValueError`` naming the
    argument and the accepted values.

    Example:
        >>> validate_config(dict(arch="resnet18", num_classes=10, num_segments=8,
        ...                      shift="sideways"))
        Traceback (most recent call last):
        ...
        ValueError: `shift` must be one of ('bidirectional', 'unidirectional', 'none'). ...
    """
    cfg = {**_CONFIG_DEFAULTS, **config}
    arch, num_classes, num_segments = cfg["arch"], cfg["num_classes"], cfg["num_segments"]
    shift, temporal_pool, non_local = cfg["shift"], cfg["temporal_pool"], cfg["non_local"]
    dropout, width_mult = cfg["dropout"], cfg["width_mult"]
    check_choice("arch", arch, ARCHITECTURES)
    check_choice("shift", shift, SHIFT_MODES)
    check_choice("shift_place", cfg["shift_place"], SHIFT_PLACES)
    check_num_segments(num_segments)
    check_shift_args(cfg["shift_div"])
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer. Received: {num_classes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if non_local and arch not in ("resnet50", "resnet101"):
        raise ValueError(
            "`non_local` blocks exist for arch in ('resnet50', 'resnet101') only. "
            f"Received: arch={arch!r}"
        )
    if arch != "mobilenetv2" and width_mult != 1.0:
        raise ValueError(f"`width_mult` applies to mobilenetv2 only. Received: arch={arch!r}")
    if temporal_pool and arch == "mobilenetv2":
        raise ValueError("`temporal_pool` is defined for ResNet backbones only.")
    if temporal_pool and num_segments < 2:
        raise ValueError("`temporal_pool` halves time and needs num_segments >= 2.")


def _build_trunk(frames, config: dict, plan: ShiftPlan):
    """Backbone + per-frame head: frames ``[B, H, W, 3]`` -> per-frame logits ``[B, K]``."""
    arch = config["arch"]
    if arch == "mobilenetv2":
        features, segments = mobilenet_v2_backbone(
            frames, plan, config["num_segments"], width_mult=config["width_mult"]
        )
    else:
        features, segments = resnet_backbone(
            frames, arch, plan, config["num_segments"],
            shift_every=config["shift_every"] or default_shift_every(arch, config["shift_place"]),
            temporal_pool=config["temporal_pool"],
            non_local=config["non_local"],
        )
    pooled = keras.layers.GlobalAveragePooling2D(name=POOL_LAYER)(features)  # [B, C]
    pooled = keras.layers.Dropout(config["dropout"], name="dropout")(pooled)
    logits = keras.layers.Dense(
        config["num_classes"],
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        bias_initializer="zeros",
        name=CLASSIFIER_LAYER,
    )(pooled)
    return logits, segments


@keras.saving.register_keras_serializable(package="tsm_tf")
class TSM(keras.Model):
    """A TSM (or, with ``shift="none"``, TSN) video classifier.

    Input: clips ``[N, T, H, W, 3]``, RGB normalised with the ImageNet mean and std.
    Output: class logits ``[N, num_classes]``, the average of the per-frame logits
    (``frame_logits_model()`` exposes those, ``[N, T', num_classes]``).

    Args:
        arch: backbone, one of ``ARCHITECTURES``.
        num_classes: classifier outputs.
        num_segments: frames per clip, T.
        shift: ``"bidirectional"`` (offline TSM), ``"unidirectional"`` (online TSM, can be
            streamed frame by frame), ``"none"`` (TSN baseline, same parameters).
        shift_div: ``C // shift_div`` channels move each way.
        shift_place: ``"blockres"`` (residual shift, default) or ``"block"`` (in-place).
        shift_every: shift every n-th block of each ResNet stage; ``None`` follows the
            reference (every other block for ResNet-101, else every block).
        temporal_pool: ResNet only: max-pool over time after layer1 (T' = T / 2).
        non_local: ResNet-50/101 only: non-local blocks after layer2 blocks 0, 2 and
            layer3 blocks 0, 2, 4.
        dropout: before the classifier.
        input_size: ``int`` or ``(height, width)``.
        width_mult: MobileNetV2 width multiplier.
        batch_size: fix the batch dimension (TFLite export); ``None`` keeps it dynamic.

    Example:
        >>> model = TSM("resnet18", num_classes=10, num_segments=4, input_size=64)
        >>> clips = np.zeros((2, 4, 64, 64, 3), "float32")
        >>> model.predict(clips, verbose=0).shape
        (2, 10)
    """

    def __init__(
        self,
        arch: str = "resnet50",
        num_classes: int = 400,
        num_segments: int = 8,
        shift: str = "bidirectional",
        shift_div: int = 8,
        shift_place: str = "blockres",
        shift_every: int | None = None,
        temporal_pool: bool = False,
        non_local: bool = False,
        dropout: float = 0.5,
        input_size=224,
        width_mult: float = 1.0,
        batch_size: int | None = None,
        **kwargs,
    ):
        height, width = _input_hw(input_size)
        config = dict(
            arch=arch, num_classes=num_classes, num_segments=num_segments, shift=shift,
            shift_div=shift_div, shift_place=shift_place, shift_every=shift_every,
            temporal_pool=temporal_pool, non_local=non_local, dropout=dropout,
            input_size=(height, width), width_mult=width_mult, batch_size=batch_size,
        )
        validate_config(config)
        plan = ShiftPlan(shift=shift, shift_div=shift_div, shift_place=shift_place)

        clips = keras.Input((num_segments, height, width, 3), batch_size=batch_size, name="video")
        frames = FoldTime(name="fold_time")(clips)  # [N*T, H, W, 3]
        logits, segments = _build_trunk(frames, config, plan)  # [N*T', K]
        per_frame = UnfoldTime(segments, name=FRAME_LOGITS_LAYER)(logits)
        outputs = AverageConsensus(name="consensus", dtype="float32")(per_frame)  # [N, K]
        kwargs.setdefault("name", f"tsm_{arch}" if shift != "none" else f"tsn_{arch}")
        super().__init__(inputs=clips, outputs=outputs, **kwargs)
        self._tsm_config = config

    @property
    def tsm_config(self) -> dict:
        """The constructor arguments that define the architecture (a copy)."""
        return dict(self._tsm_config)

    def frame_logits_model(self) -> keras.Model:
        """A model sharing these weights whose output is the per-frame logits ``[N, T', K]``."""
        return keras.Model(self.input, self.get_layer(FRAME_LOGITS_LAYER).output,
                           name=f"{self.name}_frame_logits")

    @property
    def classifier(self) -> keras.layers.Dense:
        """The final ``Dense`` layer (kernel ``[C, num_classes]``)."""
        return self.get_layer(CLASSIFIER_LAYER)

    def feature_maps_model(self) -> keras.Model:
        """A model sharing these weights with two outputs: the last feature maps before the
        global pooling ``[N*T', h, w, C]`` and the per-frame logits ``[N, T', K]`` (what class
        activation maps are made of)."""
        return keras.Model(self.input, [self.get_layer(POOL_LAYER).input,
                                        self.get_layer(FRAME_LOGITS_LAYER).output],
                           name=f"{self.name}_feature_maps")

    def get_config(self):
        config = self.tsm_config
        config["input_size"] = list(config["input_size"])
        config.update(name=self.name, trainable=self.trainable)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tsm_tf")
class StreamingTSM(keras.Model):
    """The frame-by-frame form of a uni-directional TSM (the online model).

    Functional form (``stateful=False``, what TFLite and the Android app use): inputs are a dict
    ``{"image": [B, H, W, 3], "state_<shift layer>": cache, ...}``, outputs
    ``{"logits": [B, K], "state_<shift layer>": new cache, ...}``. Start a video with
    ``init_states()`` and feed each frame's returned states to the next frame.
    With ``frames_per_step=F > 1`` the model takes F frames per call: input ``"video"``
    ``[B, F, H, W, 3]``, per-frame ``"logits"`` ``[B, F, K]``.

    Stateful form (``stateful=True``): input the image, output logits; the caches live in
    non-trainable variables, ``reset_states()`` starts a new video.

    Build it from a trained model with ``StreamingTSM.from_model(model)``: same weights, and
    frame t's logits equal the offline model's per-frame logits of frame t.

    Example:
        >>> offline = TSM("mobilenetv2", num_classes=5, num_segments=4, shift="unidirectional",
        ...               input_size=64)
        >>> online = StreamingTSM.from_model(offline)
        >>> states = online.init_states()
        >>> for frame in np.zeros((3, 1, 64, 64, 3), "float32"):  # three frames
        ...     logits, states = online.step(frame, states)
    """

    def __init__(
        self,
        arch: str = "mobilenetv2",
        num_classes: int = 400,
        num_segments: int = 8,
        shift: str = "unidirectional",
        shift_div: int = 8,
        shift_place: str = "blockres",
        shift_every: int | None = None,
        temporal_pool: bool = False,
        non_local: bool = False,
        dropout: float = 0.0,
        input_size=224,
        width_mult: float = 1.0,
        batch_size: int | None = 1,
        stateful: bool = False,
        frames_per_step: int = 1,
        **kwargs,
    ):
        validate_config(dict(
            arch=arch, num_classes=num_classes, num_segments=num_segments, shift=shift,
            shift_div=shift_div, shift_place=shift_place, temporal_pool=temporal_pool,
            non_local=non_local, dropout=dropout, width_mult=width_mult))
        problem = streaming_problem(dict(shift=shift, temporal_pool=temporal_pool,
                                         non_local=non_local))
        if problem:
            raise ValueError(f"A StreamingTSM cannot be built: {problem}.")
        batch_size = 1 if batch_size is None else batch_size
        check_num_segments(frames_per_step)
        height, width = _input_hw(input_size)
        config = dict(
            arch=arch, num_classes=num_classes, num_segments=num_segments, shift=shift,
            shift_div=shift_div, shift_place=shift_place, shift_every=shift_every,
            temporal_pool=False, non_local=False, dropout=dropout,
            input_size=(height, width), width_mult=width_mult, batch_size=batch_size,
        )
        plan = ShiftPlan(shift=shift, shift_div=shift_div, shift_place=shift_place,
                         streaming=True, stateful=stateful, batch_size=batch_size,
                         frames_per_step=frames_per_step)
        if frames_per_step == 1:
            image = keras.Input((height, width, 3), batch_size=batch_size, name="image")
            logits, _ = _build_trunk(image, config, plan)  # [B, K]
        else:
            image = keras.Input((frames_per_step, height, width, 3), batch_size=batch_size,
                                name="video")
            frames = FoldTime(name="fold_time")(image)  # [B*F, H, W, 3]
            logits, _ = _build_trunk(frames, config, plan)  # [B*F, K]
            logits = UnfoldTime(frames_per_step, name=FRAME_LOGITS_LAYER)(logits)  # [B, F, K]
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
        input_name = image.name
        kwargs.setdefault("name", f"streaming_tsm_{arch}")
        if stateful:
            super().__init__(inputs=image, outputs=logits, **kwargs)
        else:
            super().__init__(
                inputs={input_name: image, **plan.state_inputs},
                outputs={"logits": logits, **plan.state_outputs},
                **kwargs,
            )
        self._tsm_config = config
        self.stateful = stateful
        self.frames_per_step = frames_per_step
        self.frame_input_name = input_name  # "image" (one frame per step) or "video"
        self._state_shapes = {k: tuple(v.shape) for k, v in plan.state_inputs.items()}

    @property
    def tsm_config(self) -> dict:
        return dict(self._tsm_config)

    @property
    def state_shapes(self) -> dict[str, tuple]:
        """Cache name -> shape ``(B, H, W, fold)``, in network order (functional form)."""
        return dict(self._state_shapes)

    def init_states(self) -> dict[str, np.ndarray]:
        """Zero caches of the right shapes: the state before the first frame of a video."""
        return {name: np.zeros(shape, "float32") for name, shape in self._state_shapes.items()}

    def step(self, frames, states: dict | None = None) -> tuple[np.ndarray, dict]:
        """Functional form: run the next frame(s) and return ``(logits, new_states)`` as numpy.

        ``frames`` is ``[B, H, W, 3]`` (or ``[B, F, H, W, 3]`` with ``frames_per_step=F``);
        ``states=None`` starts a new video.
        """
        if self.stateful:
            raise ValueError("step() is for the functional form; call a stateful model directly.")
        states = self.init_states() if states is None else states
        feed = {name: np.asarray(value, np.float32) for name, value in states.items()}
        feed[self.frame_input_name] = np.asarray(frames, np.float32)
        outputs = self(feed, training=False)
        logits = np.asarray(outputs["logits"])
        return logits, {name: np.asarray(outputs[name]) for name in self._state_shapes}

    def reset_states(self) -> None:
        """Stateful form: zero every cache variable (start of a new video)."""
        for layer in self.layers:
            if isinstance(layer, StatefulTemporalShift):
                layer.reset_states()

    @classmethod
    def from_model(cls, model: TSM, *, stateful: bool = False, batch_size: int = 1,
                   **overrides) -> StreamingTSM:
        """Build the streaming form of a trained uni-directional ``TSM`` with its weights."""
        if not isinstance(model, TSM):
            raise TypeError(f"Expected a tsm_tf TSM model, got {type(model).__name__}.")
        config = model.tsm_config
        config.update(batch_size=batch_size, stateful=stateful, **overrides)
        streaming = cls(**config)
        copy_weights_by_name(model, streaming)
        return streaming

    def get_config(self):
        config = self.tsm_config
        config["input_size"] = list(config["input_size"])
        config.update(stateful=self.stateful, frames_per_step=self.frames_per_step,
                      name=self.name, trainable=self.trainable)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> int:
    """Copy each weighted layer's weights from ``source`` to the same-named layer of ``target``.

    Cache variables of stateful shift layers are skipped (they hold no learned values).
    Returns the number of layers copied. Raises ``ValueError`` when a weighted layer of either
    model has no counterpart in the other, or on a shape mismatch: never a silent partial copy.
    """

    def weighted(model):
        return {layer.name: layer for layer in model.layers
                if layer.weights and not isinstance(layer, StatefulTemporalShift)}

    sources, targets = weighted(source), weighted(target)
    missing = sorted(set(targets) - set(sources))
    unused = sorted(set(sources) - set(targets))
    if missing or unused:
        raise ValueError(
            f"{source.name!r} and {target.name!r} are different architectures: "
            f"{len(missing)} weighted layers only in the target {missing[:5]}, "
            f"{len(unused)} only in the source {unused[:5]}."
        )
    for name, layer in targets.items():
        values = sources[name].get_weights()
        expected = [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != expected:
            raise ValueError(
                f"Layer {name!r}: weight shapes {[v.shape for v in values]} in "
                f"{source.name!r} do not match {expected} in {target.name!r}."
            )
        layer.set_weights(values)
    return len(targets)
