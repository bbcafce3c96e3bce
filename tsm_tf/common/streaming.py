"""Which models can run frame by frame (no TensorFlow needed)."""

from __future__ import annotations

from collections.abc import Mapping


def streaming_problem(config: Mapping) -> str | None:
    """Why a model with this ``tsm_config`` cannot run frame by frame, or None if it can.

    The one causality rule shared by ``StreamingTSM``, the converter's streaming mode, early
    recognition and the streaming recognizer:

    >>> streaming_problem({"shift": "unidirectional"}) is None
    True
    >>> streaming_problem({"shift": "bidirectional"})[:34]
    'its bi-directional shift looks at '
    """
    if config.get("shift") == "bidirectional":
        return ("its bi-directional shift looks at the next frame, which a live stream has not "
                "seen yet; train an online model (`python -m tsm_tf.train --shift "
                "unidirectional`, shift='unidirectional')")
    if config.get("temporal_pool") or config.get("non_local"):
        return ("temporal pooling and non-local blocks mix frames over the whole clip; build "
                "the model without them")
    return None
