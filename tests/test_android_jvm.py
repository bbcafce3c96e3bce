"""The Android app's checks that need no device: its JUnit tests on the JVM, the compilation of
every app source against the API-23 platform jar, the model import script, and the rules the
project keeps (plain-JVM core, stand-in outside the app, LiteRT as the only dependency).

The JVM steps run ``android_demo/tools/jvm-check.sh`` and are skipped without a JDK, kotlinc or
junit4 unless ``TSM_ANDROID_STRICT=1`` (``make android-check``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from test_android_golden import REPO, run_jvm_check

APP = REPO / "android_demo"
MAIN = APP / "app" / "src" / "main" / "java" / "org" / "tsmtf" / "demo"
IMPORT = APP / "import_model.sh"


@pytest.mark.slow
def test_junit_tests_pass():
    result = run_jvm_check("unit")
    print(result.stdout[-2000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    match = re.search(r"OK \((\d+) tests\)", result.stdout)
    assert match and int(match.group(1)) >= 30


@pytest.mark.slow
def test_app_compiles_against_the_api23_platform_jar():
    result = run_jvm_check("compile")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "compile against the API-23 platform jar" in result.stdout
    classes = REPO / "build" / "android-jvm" / "android" / "classes" / "org" / "tsmtf" / "demo"
    assert (classes / "MainActivity.class").is_file()


@pytest.mark.slow
def test_manifest_and_resources_package_against_the_api23_platform_jar():
    result = run_jvm_check("resources")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    badging = result.stdout
    assert "package: name='org.tsmtf.demo'" in badging
    assert "launchable-activity: name='org.tsmtf.demo.MainActivity'" in badging
    assert "uses-permission: name='android.permission.CAMERA'" in badging
    # A phone with only a front camera can install it.
    assert "uses-feature-not-required: name='android.hardware.camera'" in badging


def test_core_is_plain_jvm_and_the_stand_in_stays_outside_the_app():
    core = list((MAIN / "core").glob("*.kt"))
    assert len(core) >= 8
    for path in core:
        text = path.read_text()
        assert not re.search(r"^import android\.", text, re.M), f"{path.name} imports android.*"
    stub = list((APP / "litert-stub").rglob("*.kt"))
    assert stub and all("COMPILE-ONLY STAND-IN" in p.read_text() for p in stub)
    # Nothing under app/ declares the LiteRT package: the real AAR provides it.
    for path in (APP / "app").rglob("*.kt"):
        assert "package com.google.ai.edge.litert" not in path.read_text(), path


def test_buffers_are_created_and_run_by_name_only():
    """The LiteRT layer never uses the list-position API (createInputBuffers, run(List))."""
    runner = (MAIN / "LiteRtRunner.kt").read_text()
    app = "\n".join(p.read_text() for p in MAIN.glob("*.kt"))
    assert "createInputBuffer(" in runner and "createOutputBuffer(" in runner
    assert "model.run(inputs, outputs)" in runner and "Map<String, TensorBuffer>" in runner
    for positional in ("createInputBuffers(", "createOutputBuffers(", "run(listOf"):
        assert positional not in app, positional


def test_gradle_depends_on_litert_only():
    build = (APP / "app" / "build.gradle.kts").read_text()
    deps = re.findall(r'^\s*(\w+)\("([^"]+)"\)', build.split("dependencies {", 1)[1], re.M)
    runtime = [coord for kind, coord in deps if kind == "implementation"]
    assert runtime == ["com.google.ai.edge.litert:litert:$litertVersion",
                       "com.google.ai.edge.litert:litert-gpu:$litertVersion"]
    assert re.search(r'litertVersion = "2\.3\.\d+"', build) and "minSdk = 24" in build
    wrapper = (APP / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    assert "distributionUrl=" in wrapper
    manifest = (APP / "app" / "src" / "main" / "AndroidManifest.xml").read_text()
    assert "android.permission.CAMERA" in manifest and ".MainActivity" in manifest


def _import(model: Path, assets: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(IMPORT), str(model)], capture_output=True, text=True,
                          env={**os.environ, "ASSETS_DIR": str(assets)}, timeout=60)


def test_import_model_copies_the_model_and_its_sidecar(tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "old.tflite").write_bytes(b"\0\0\0\0TFL3old")
    (assets / "old.json").write_text("{}")
    model = tmp_path / "jester" / "online_int8.tflite"
    model.parent.mkdir()
    model.write_bytes(b"\x1c\0\0\0TFL3" + bytes(range(40)))
    sidecar = {"format": "tsm_tf.sidecar", "model": {"mode": "streaming"}}
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    result = _import(model, assets)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in assets.iterdir()) == ["online_int8.json", "online_int8.tflite"]
    assert (assets / "online_int8.tflite").read_bytes() == model.read_bytes()


def test_import_model_refuses_what_the_app_cannot_run(tmp_path):
    assets = tmp_path / "assets"
    not_tflite = tmp_path / "model.tflite"
    not_tflite.write_bytes(b"PK\3\4 not a flatbuffer")
    result = _import(not_tflite, assets)
    assert result.returncode == 1 and "TFL3" in result.stderr
    offline = tmp_path / "offline.tflite"
    offline.write_bytes(b"\x1c\0\0\0TFL3")
    offline.with_suffix(".json").write_text(json.dumps(
        {"format": "tsm_tf.sidecar", "model": {"mode": "offline"}}))
    result = _import(offline, assets)
    assert result.returncode == 1 and "--mode streaming" in result.stderr
    assert not assets.exists() or not any(assets.iterdir())
    assert _import(tmp_path / "missing.tflite", assets).returncode == 1
