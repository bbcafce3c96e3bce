"""Device profiles (``mobile/devices.yaml``, on top of the converter's target recipes in
``tsm_tf/export/targets.yaml``) and devices named on the command line.

``--device`` accepts a profile name (``host``, ``note8``, ``pixel1``, ``rpi4``,
``jetson_nano``, ``edgetpu``), ``adb:SERIAL`` (any Android device, optionally on top of a
profile: ``note8@adb:SERIAL``) or ``ssh:[USER@]HOST`` (any Linux board: ``rpi4@ssh:pi@10.0.0.7``).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from tsm_tf.export.targets import load_targets

KINDS = ("host", "adb", "ssh", "edgetpu")
DEFAULT_DEVICES_FILE = Path(__file__).resolve().parents[2] / "mobile" / "devices.yaml"
_DEFAULTS = {
    "adb": {"threads": 4, "delegate": "xnnpack", "remote_dir": "/data/local/tmp/tsm_bench",
            "abi": "arm64-v8a"},
    "ssh": {"threads": 4, "delegate": "xnnpack", "remote_dir": "/tmp/tsm_bench",
            "abi": "aarch64"},
}


def load_devices(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Profiles by name, each with its ``name``; recipe fields filled in when available."""
    path = Path(path or DEFAULT_DEVICES_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"No device profiles file {path} (expected mobile/devices.yaml)")
    with open(path, encoding="utf-8") as f:
        profiles = yaml.safe_load(f) or {}
    if not isinstance(profiles, dict):
        raise ValueError(f"{path}: expected a mapping of device name -> profile")
    recipes = load_targets()
    devices = {}
    for name, profile in profiles.items():
        if not isinstance(profile, dict) or profile.get("kind") not in KINDS:
            raise ValueError(
                f"{path}: device {name!r} needs `kind` in {KINDS}, got {profile!r}"
            )
        recipe_name = profile.get("recipe", name)
        if recipe_name not in recipes:
            raise ValueError(f"{path}: device {name!r} names an unknown recipe {recipe_name!r}; "
                             f"tsm_tf/export/targets.yaml has {sorted(recipes)}")
        devices[name] = {**recipes[recipe_name], **profile, "name": name}
    return devices


def resolve_device(spec: str, devices: dict[str, dict] | None = None) -> dict:
    """The profile for a ``--device`` value (see the module doc for the accepted forms).

    Raises:
        ValueError: unknown profile (the known ones are listed) or a malformed address.
    """
    devices = load_devices() if devices is None else devices
    base, _, address = spec.partition("@") if "@" in spec.split(":", 1)[0] else ("", "", spec)
    if address.startswith(("adb:", "ssh:")):
        kind, _, target = address.partition(":")
        if not target:
            raise ValueError(f"--device {spec!r}: give the {kind} address, e.g. {kind}:SERIAL")
        profile = dict(_profile(base, devices)) if base else {"name": f"{kind}:{target}"}
        if base and profile["kind"] != kind:
            raise ValueError(f"--device {spec!r}: profile {base!r} is a {profile['kind']} device")
        profile = {**_DEFAULTS[kind], **profile, "kind": kind}
        profile["serial" if kind == "adb" else "host"] = target
        return profile
    return dict(_profile(address, devices))


def _profile(name: str, devices: dict[str, dict]) -> dict:
    if name not in devices:
        raise ValueError(
            f"Unknown device {name!r}. Known profiles: {sorted(devices)}; or pass adb:SERIAL or "
            "ssh:[USER@]HOST (optionally PROFILE@adb:SERIAL)."
        )
    return devices[name]
