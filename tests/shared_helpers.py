"""Small helpers several test files share."""

from __future__ import annotations

import socket

import keras
import numpy as np


def randomize_statistics(model: keras.Model, seed: int = 0) -> keras.Model:
    """Give every BatchNorm random statistics and every Dense layer a unit-scale kernel, so a
    freshly built model's logits are a few units rather than near zero (numerical comparisons
    then mean something)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape),
            ])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, kernel.shape[0] ** -0.5, kernel.shape), bias])
    return model


def free_ports(n: int) -> list[int]:
    """``n`` loopback ports free right now (for multi-worker tests)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports
