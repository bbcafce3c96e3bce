"""The attention core of the embedded-Gaussian non-local block (Wang et al.), over all
positions of all frames of a clip, as used by TSM's non-local variant."""

from __future__ import annotations

import keras
from keras import ops

from tsm_tf.layers.shift import check_num_segments


@keras.saving.register_keras_serializable(package="tsm_tf")
class NonLocalAttention(keras.layers.Layer):
    """``softmax(theta @ phi^T) @ g`` over the space-time positions of each clip.

    Inputs are frames folded into the batch: ``theta`` ``[N*T, H, W, Ci]`` (queries, one per
    output position), ``phi`` and ``g`` ``[N*T, H', W', Ci]`` (keys and values, usually
    spatially sub-sampled). The output has the shape of ``theta``. No scaling of the dot
    products (embedded Gaussian, as in the reference).

    Example:
        >>> attention = NonLocalAttention(num_segments=4)
        >>> q = keras.ops.ones((8, 6, 6, 16))
        >>> kv = keras.ops.ones((8, 3, 3, 16))
        >>> tuple(attention(q, kv, kv).shape)
        (8, 6, 6, 16)
    """

    def __init__(self, num_segments: int, **kwargs):
        super().__init__(**kwargs)
        check_num_segments(num_segments)
        self.num_segments = num_segments

    def call(self, theta, phi, g):
        shape = ops.shape(theta)
        height, width, inter = shape[1], shape[2], theta.shape[-1]
        frames = self.num_segments
        queries = ops.reshape(theta, (-1, frames * height * width, inter))  # [N, THW, Ci]
        keys = ops.reshape(phi, (-1, frames * phi.shape[1] * phi.shape[2], inter))  # [N, S, Ci]
        values = ops.reshape(g, (-1, frames * g.shape[1] * g.shape[2], inter))  # [N, S, Ci]
        scores = ops.matmul(queries, ops.transpose(keys, (0, 2, 1)))  # [N, THW, S]
        weights = ops.softmax(scores, axis=-1)
        attended = ops.matmul(weights, values)  # [N, THW, Ci]
        return ops.reshape(attended, (-1, height, width, inter))  # [N*T, H, W, Ci]

    def compute_output_shape(self, theta_shape, phi_shape, g_shape):
        return tuple(theta_shape)

    def get_config(self):
        config = super().get_config()
        config.update(num_segments=self.num_segments)
        return config
