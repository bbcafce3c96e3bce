"""Run TFLite's ``benchmark_model`` on a phone (adb) or a Linux board (ssh).

A session pushes the binary and the models once, runs them in interleaved rounds, parses each
run and removes what it pushed. Every step is a plain command list, so what would run can be
printed when the binary, the tool or the device is missing (``plan()``), and tests can put fake
``adb`` / ``ssh`` / ``scp`` scripts on ``PATH``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tsm_tf.bench.parse import parse_benchmark_output

DELEGATE_FLAGS = {
    "xnnpack": ["--use_xnnpack=true"],
    "none": ["--use_xnnpack=false"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
}
EDGETPU_REMOTE_LIBRARY = "libedgetpu.so.1"


class DeviceUnavailable(RuntimeError):
    """The tool, the binary or the device is missing; the message says which and what would run."""


class DeviceLost(RuntimeError):
    """A command failed mid-benchmark (device unplugged, board rebooted, binary crashed)."""


@dataclass
class RemoteModel:
    """A model to run remotely: its local path and, for ``--input_layer``, its input tensors."""

    path: Path
    inputs: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # (tensor name, shape)

    @property
    def remote_name(self) -> str:
        return self.path.name


def model_inputs(path: str | os.PathLike) -> list[tuple[str, tuple[int, ...]]]:
    """(tensor name, shape) of every model input, frame and caches alike, read with LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    return [(d["name"], tuple(int(v) for v in d["shape"])) for d in interpreter.get_input_details()]


class RemoteSession:
    """Commands for one device profile (``kind`` ``adb`` or ``ssh``)."""

    def __init__(self, profile: dict, binary: str | os.PathLike | None, *, timeout: float = 600):
        if profile["kind"] not in ("adb", "ssh"):
            raise ValueError(f"RemoteSession is for adb or ssh devices, not {profile['kind']!r}")
        self.profile = profile
        self.kind = profile["kind"]
        self.binary = Path(binary) if binary else None
        self.remote_dir = profile.get("remote_dir", "/data/local/tmp/tsm_bench")
        self.timeout = timeout

    # -- command construction -------------------------------------------------------------
    def _prefix(self) -> list[str]:
        if self.kind == "adb":
            serial = self.profile.get("serial")
            return ["adb", *(["-s", serial] if serial else [])]
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", self._host()]

    def _host(self) -> str:
        host = self.profile.get("host")
        if not host:
            raise DeviceUnavailable(
                f"Device {self.profile['name']!r} has no ssh host: pass "
                f"--device {self.profile['name']}@ssh:[USER@]HOST"
            )
        return host

    def shell(self, command: list[str]) -> list[str]:
        """The local command that runs ``command`` on the device."""
        remote = " ".join(shlex.quote(part) for part in command)
        if self.kind == "adb":
            return [*self._prefix(), "shell", remote]
        return [*self._prefix(), remote]

    def push(self, local: str | os.PathLike, remote: str) -> list[str]:
        if self.kind == "adb":
            return [*self._prefix(), "push", os.fspath(local), remote]
        return ["scp", "-q", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", os.fspath(local),
                f"{self._host()}:{remote}"]

    def remote_binary(self) -> str:
        return f"{self.remote_dir}/benchmark_model"

    def benchmark_command(self, model: RemoteModel, *, threads: int, runs: int, warmup: int,
                          delegate: str | None = None, op_profiling: bool = False) -> list[str]:
        """The ``benchmark_model`` invocation on the device (pinned with taskset when a mask is
        set); every input, caches included, named with its shape (values are random)."""
        delegate = delegate or self.profile.get("delegate", "xnnpack")
        if delegate == "edgetpu":
            library = self.profile.get("delegate_library", EDGETPU_REMOTE_LIBRARY)
            flags = [f"--external_delegate_path={library}"]
        elif delegate in DELEGATE_FLAGS:
            flags = DELEGATE_FLAGS[delegate]
        else:
            raise ValueError(
                f"Unknown delegate {delegate!r}; known: {sorted(DELEGATE_FLAGS)} and edgetpu")
        command = [self.remote_binary(), f"--graph={self.remote_dir}/{model.remote_name}",
                   f"--num_threads={threads}", f"--num_runs={runs}", f"--warmup_runs={warmup}",
                   *flags]
        if model.inputs:
            command.append("--input_layer=" + ",".join(name for name, _ in model.inputs))
            command.append("--input_layer_shape="
                           + ":".join(",".join(map(str, shape)) for _, shape in model.inputs))
        if op_profiling:
            command.append("--enable_op_profiling=true")
        mask = self.profile.get("cpu_mask")
        return ["taskset", str(mask), *command] if mask else command

    def setup_commands(self, models: list[RemoteModel]) -> list[list[str]]:
        binary = self.binary or Path("<benchmark_model>")
        commands = [self.shell(["mkdir", "-p", self.remote_dir]),
                    self.push(binary, self.remote_binary()),
                    self.shell(["chmod", "755", self.remote_binary()])]
        commands += [self.push(m.path, f"{self.remote_dir}/{m.remote_name}") for m in models]
        return commands

    def cleanup_command(self) -> list[str]:
        return self.shell(["rm", "-rf", self.remote_dir])

    def plan(self, models: list[RemoteModel], **run) -> list[list[str]]:
        """Every command a session would run, in order (printed when a device is missing)."""
        return [*self.setup_commands(models),
                *(self.shell(self.benchmark_command(m, **run)) for m in models),
                self.cleanup_command()]

    # -- execution ------------------------------------------------------------------------
    def check(self, models: list[RemoteModel], **run) -> None:
        """Raise ``DeviceUnavailable`` naming what is missing, with the commands that would run."""
        plan = "\n".join("  " + shlex.join(c) for c in self.plan(models, **run))
        tool = "adb" if self.kind == "adb" else "ssh"
        if self.binary is None or not self.binary.is_file():
            abi = self.profile.get("abi", "the device")
            what = (f"the TFLite benchmark_model binary for {abi} (pass --benchmark-binary PATH)"
                    if self.binary is None
                    else f"the benchmark binary {self.binary} (no such file)")
            raise DeviceUnavailable(f"{self.profile['name']}: missing {what}. Would run:\n{plan}")
        for program in {tool, "scp" if self.kind == "ssh" else tool}:
            if shutil.which(program) is None:
                raise DeviceUnavailable(
                    f"{self.profile['name']}: `{program}` is not on PATH. Would run:\n{plan}"
                )
        probe = ([*self._prefix(), "get-state"] if self.kind == "adb"
                 else [*self._prefix(), "true"])
        result = self._run(probe, check=False)
        if result.returncode != 0 or (self.kind == "adb" and "device" not in result.stdout):
            said = (result.stderr or result.stdout).strip().splitlines()
            raise DeviceUnavailable(
                f"{self.profile['name']}: no device answers ({shlex.join(probe)}: "
                f"{said[-1] if said else 'exit ' + str(result.returncode)}). Would run:\n{plan}"
            )

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as error:
            raise DeviceLost(
                f"{shlex.join(command)} timed out after {self.timeout:.0f} s") from error
        if check and result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise DeviceLost(
                f"{shlex.join(command)} failed (exit {result.returncode}): "
                f"{said[-1] if said else 'no output'}"
            )
        return result

    def setup(self, models: list[RemoteModel]) -> None:
        for command in self.setup_commands(models):
            self._run(command)

    def run_model(self, model: RemoteModel, **run) -> dict:
        """One ``benchmark_model`` run, parsed (see ``parse_benchmark_output``)."""
        result = self._run(self.shell(self.benchmark_command(model, **run)))
        self.last_output = result.stdout + "\n" + result.stderr
        try:
            return parse_benchmark_output(result.stdout + "\n" + result.stderr)
        except ValueError as error:
            raise DeviceLost(f"{model.remote_name}: {error}") from error

    def cleanup(self) -> str | None:
        """Remove the pushed files; returns a warning instead of raising (device may be gone)."""
        try:
            self._run(self.cleanup_command())
        except DeviceLost as error:
            return f"cleanup failed, remove {self.remote_dir} by hand: {error}"
        return None
