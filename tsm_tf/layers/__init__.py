"""Keras layers of tsm-tf: the temporal shift (offline and streaming) and its companions."""

from tsm_tf.layers.non_local import NonLocalAttention
from tsm_tf.layers.shift import (
    SHIFT_DIRECTIONS,
    StatefulTemporalShift,
    StreamingTemporalShift,
    TemporalShift,
    streaming_shift,
    temporal_shift,
)
from tsm_tf.layers.temporal import AverageConsensus, FoldTime, TemporalMaxPool, UnfoldTime

__all__ = [
    "SHIFT_DIRECTIONS",
    "AverageConsensus",
    "FoldTime",
    "NonLocalAttention",
    "StatefulTemporalShift",
    "StreamingTemporalShift",
    "TemporalMaxPool",
    "TemporalShift",
    "UnfoldTime",
    "streaming_shift",
    "temporal_shift",
]
