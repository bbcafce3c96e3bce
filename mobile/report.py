"""Markdown table and a PNG bar chart per device from the rows of mobile/benchmark.py.

    python mobile/report.py results.csv --out report/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsm_tf.bench.report import write_report  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results CSV written by mobile/benchmark.py")
    parser.add_argument("--out", default="report", help="folder for report.md and the charts")
    args = parser.parse_args(argv)
    try:
        written = write_report(args.results, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
