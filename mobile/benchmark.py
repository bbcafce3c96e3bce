"""Per-frame latency of a TFLite model on one device, optionally paired with its 2D baseline.

    python mobile/benchmark.py --model tsm.tflite --baseline tsn.tflite --device host --threads 2
    python mobile/benchmark.py --model tsm.tflite --device note8 \\
        --benchmark-binary ./benchmark_model
    python mobile/benchmark.py --model tsm.tflite --device rpi4@ssh:pi@192.168.1.20 \\
        --benchmark-binary ./benchmark_model_aarch64
    python mobile/benchmark.py --model tsm_edgetpu.tflite --device edgetpu

Rows (one per model and measure) are appended to --results (CSV) and the JSON beside it;
``python mobile/report.py results.csv --out report/`` turns them into tables and charts.
See docs/benchmark.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsm_tf.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
