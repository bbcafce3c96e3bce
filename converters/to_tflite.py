#!/usr/bin/env python
"""Convert a tsm_tf model to TensorFlow Lite: ``python converters/to_tflite.py SOURCE --out DIR``.

A thin wrapper: the logic is ``tsm_tf.export.cli.main`` (run ``--help`` for every option).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from tsm_tf.export.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
