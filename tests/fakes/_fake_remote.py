"""Shared body of the fake ``adb``, ``ssh`` and ``scp`` used by tests/test_bench_remote.py.

Each call appends ``<tool> <args as JSON>`` to ``$FAKE_REMOTE_LOG``. A command that runs
``benchmark_model`` prints the real-format output in benchmark_model_output.txt, with the mean
(us) taken from ``$FAKE_MEAN_US_<model stem>`` (default 33250). ``$FAKE_DEVICE_STATE`` is what
``adb get-state`` says (default ``device``); ``$FAKE_FAIL_AFTER=N`` makes every
``benchmark_model`` run after the N-th fail like an unplugged phone.
"""

import json
import os
import re
import sys
from pathlib import Path


def main(tool: str) -> int:
    args = sys.argv[1:]
    log = os.environ["FAKE_REMOTE_LOG"]
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{tool} {json.dumps(args)}\n")
    joined = " ".join(args)
    if tool == "adb" and "get-state" in args:
        state = os.environ.get("FAKE_DEVICE_STATE", "device")
        if state != "device":
            print("error: no devices/emulators found", file=sys.stderr)
            return 1
        print(state)
        return 0
    if "benchmark_model" in joined and "--graph=" in joined:
        count_file = Path(log + ".runs")
        runs = int(count_file.read_text()) + 1 if count_file.exists() else 1
        count_file.write_text(str(runs))
        fail_after = os.environ.get("FAKE_FAIL_AFTER")
        if fail_after is not None and runs > int(fail_after):
            print("error: device 'FAKE123' not found", file=sys.stderr)
            return 1
        stem = re.search(r"--graph=\S*/([^/\s']+)\.tflite", joined).group(1)
        mean = os.environ.get(f"FAKE_MEAN_US_{stem}", "33250")
        text = (Path(__file__).with_name("benchmark_model_output.txt")).read_text()
        print(text.replace("MODEL", stem).replace("MEAN", mean).replace("MEDIAN", mean))
        return 0
    return 0
