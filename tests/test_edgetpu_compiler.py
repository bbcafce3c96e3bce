"""Running edgetpu_compiler: a fake compiler on PATH (tests/fakes) prints the real log format;
without a compiler the tool says so and gives the exact command."""

import json
import os
import shlex
from pathlib import Path

import pytest

from tsm_tf.export.edgetpu import (
    compiler_missing_message,
    main,
    parse_compiler_log,
    run_compiler,
)

FAKES = Path(__file__).resolve().parent / "fakes"

# Output of edgetpu_compiler 16 for a model with ops left on the CPU (format as the compiler
# prints it; the numbers are this test's own).
PARTIAL_LOG = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1210 ms.

Input model: model.tflite
Input size: 2.31MiB
Output model: model_edgetpu.tflite
Output size: 2.52MiB
On-chip memory used for caching model parameters: 2.27MiB
On-chip memory remaining for caching model parameters: 4.75MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 60
Operation log: model_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage \
of the model will instead run on the CPU, which is slower. If possible, consider updating your \
model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 41
Number of operations that will run on CPU: 19

Operator                       Count      Status

CONV_2D                        30         Mapped to Edge TPU
DEPTHWISE_CONV_2D              10         Mapped to Edge TPU
RESHAPE                        1          Mapped to Edge TPU
RESHAPE                        2          More than one subgraph is not supported
CONCATENATION                  8          More than one subgraph is not supported
TRANSPOSE                      1          Operation not supported
ADD                            8          More than one subgraph is not supported
Compilation child process completed within timeout period.
Compilation succeeded!
"""


def test_parse_a_log_with_ops_on_the_cpu():
    parsed = parse_compiler_log(PARTIAL_LOG)
    assert parsed["compiler_version"] == "16.0.384591198"
    assert parsed["compiled"] is True
    assert (parsed["tpu_ops"], parsed["cpu_ops"], parsed["total_ops"]) == (41, 19, 60)
    assert parsed["edgetpu_subgraphs"] == 1
    assert [(r["op"], r["count"], r["mapped"]) for r in parsed["operations"]] == [
        ("CONV_2D", 30, True), ("DEPTHWISE_CONV_2D", 10, True), ("RESHAPE", 1, True),
        ("RESHAPE", 2, False), ("CONCATENATION", 8, False), ("TRANSPOSE", 1, False),
        ("ADD", 8, False)]
    assert parsed["operations"][5]["status"] == "Operation not supported"
    assert parsed["cpu_reasons"] == ["More than one subgraph is not supported",
                                     "Operation not supported"]


def test_a_fully_mapped_log_takes_its_counts_from_the_table():
    # The compiler prints the "Number of operations ..." lines only when some ops fall back.
    log = "\n".join(line for line in PARTIAL_LOG.splitlines()
                    if not line.startswith(("Number of operations that", "Model successfully"))
                    and "More than one" not in line and "not supported" not in line)
    parsed = parse_compiler_log(log)
    assert (parsed["tpu_ops"], parsed["cpu_ops"]) == (41, 0)


def test_a_log_without_counts_or_table_gives_no_numbers():
    parsed = parse_compiler_log("Edge TPU Compiler version 16.0.384591198\nInvalid model\n")
    assert parsed["tpu_ops"] is None and parsed["cpu_ops"] is None and not parsed["compiled"]


@pytest.fixture
def fake_compiler(monkeypatch, tmp_path):
    """The fake compiler first on PATH; returns the file where it records its arguments."""
    record = tmp_path / "compiler_args.jsonl"
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_EDGETPU_ARGS", str(record))
    monkeypatch.delenv("FAKE_EDGETPU_OPS", raising=False)
    monkeypatch.delenv("FAKE_EDGETPU_FAIL", raising=False)
    return record


def model_file(tmp_path, name="online_tsm_int8.tflite"):
    path = tmp_path / "models" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(range(64)))
    return path


def test_fake_compiler_all_mapped(fake_compiler, tmp_path):
    model = model_file(tmp_path)
    out = tmp_path / "out"
    result = run_compiler(model, out)
    assert result is not None
    # The fake's default table: CONV_2D 8, ADD 3, STRIDED_SLICE 4, all mapped.
    assert (result["tpu_ops"], result["cpu_ops"], result["total_ops"]) == (15, 0, 15)
    assert result["compiled_model"] == str(out / "online_tsm_int8_edgetpu.tflite")
    assert Path(result["compiled_model"]).read_bytes() == model.read_bytes()
    assert Path(result["log_file"]).read_text().startswith("Operator")
    assert result["command"] == ["edgetpu_compiler", "-s", "-o", str(out), str(model)]
    assert "Number of Edge TPU subgraphs: 1" in result["log"]
    # The compiler ran once, with -s and a scratch folder inside out/, removed afterwards.
    (args,) = [json.loads(line) for line in fake_compiler.read_text().splitlines()]
    assert args[0] == "-s" and args[1] == "-o" and args[3] == str(model)
    assert Path(args[2]).parent == out and not Path(args[2]).exists()
    assert sorted(p.name for p in out.iterdir()) == ["online_tsm_int8_edgetpu.log",
                                                      "online_tsm_int8_edgetpu.tflite"]


def test_fake_compiler_with_ops_on_the_cpu(fake_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_EDGETPU_OPS", "|".join([
        "RESHAPE:1:Operation is working on an unsupported data type",
        "CONV_2D:12:More than one subgraph is not supported",
        "QUANTIZE:1:Mapped to Edge TPU",
    ]))
    result = run_compiler(model_file(tmp_path), tmp_path / "out")
    assert (result["tpu_ops"], result["cpu_ops"]) == (1, 13)
    assert result["cpu_reasons"] == ["More than one subgraph is not supported",
                                     "Operation is working on an unsupported data type"]
    assert [row["op"] for row in result["operations"]] == ["RESHAPE", "CONV_2D", "QUANTIZE"]


def test_failing_compiler_raises_and_leaves_nothing(fake_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_EDGETPU_FAIL", "1")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"failed on .*\(exit 1\): Internal compiler error"):
        run_compiler(model_file(tmp_path), out)
    assert list(out.iterdir()) == []


def test_missing_model_is_named(fake_compiler, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.tflite"):
        run_compiler(tmp_path / "absent.tflite", tmp_path / "out")


def test_absent_compiler_returns_none_and_the_message_gives_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    model = model_file(tmp_path, "my model.tflite")  # a space: the command must quote it
    out = tmp_path / "edge out"
    assert run_compiler(model, out) is None
    assert not out.exists()
    message = compiler_missing_message(model, out)
    assert "edgetpu_compiler is not on PATH" in message
    command = message.split("run: ", 1)[1]
    assert shlex.split(command) == ["edgetpu_compiler", "-s", "-o", str(out), str(model)]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Two one-op full-integer models: one the Edge TPU runs (ADD), one it cannot (ABS)."""
    import tensorflow as tf
    from test_edgetpu import int8_graph

    folder = tmp_path_factory.mktemp("tiny")
    paths = {}
    for name, function in {"add": lambda x: x + 1.0, "abs": tf.abs}.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(int8_graph(function, (1, 4, 4, 3)))
    return paths


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_cli_checks_then_compiles(fake_compiler, monkeypatch, tiny_models, tmp_path, capsys):
    monkeypatch.setenv("FAKE_EDGETPU_OPS", "ADD:1:Mapped to Edge TPU")
    out = tmp_path / "out"
    assert main([str(tiny_models["add"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "all 1 operations meet the Edge TPU rules" in printed
    assert "edgetpu_compiler 16.0.384591198: 1 ops on the Edge TPU, 0 on the CPU" in printed
    assert (out / "add_edgetpu.tflite").is_file()


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_cli_lists_what_falls_back_and_the_command_when_no_compiler(
        monkeypatch, tiny_models, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main([str(tiny_models["abs"]), "--out", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr().out
    assert "#0 ABS [supported-op]" in printed
    assert f"run: edgetpu_compiler -s -o {tmp_path / 'out'} {tiny_models['abs']}" in printed


def test_cli_rejects_a_file_that_is_not_tflite(tmp_path, capsys):
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"not a flatbuffer")
    assert main([str(bogus)]) == 2
    assert "not a TFLite flatbuffer" in capsys.readouterr().err
