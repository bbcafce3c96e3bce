#!/usr/bin/env bash
# Checks the app without Gradle or a device (see android_demo/README.md):
#   unit          compile the plain-JVM logic and its JUnit 4 tests with kotlinc, run them;
#   golden DIR    run the golden-file checker on DIR (written by tests/test_android_golden.py);
#   bench [N]     time the per-frame JVM work (YUV, rotation, preprocessing, caches, smoothing);
#   compile       compile every app source, with the LiteRT compile-only stand-in, against the
#                 Android API-23 platform jar (anything newer than API 23 fails to resolve);
#   resources     package the manifest and resources with aapt against the same jar (Gradle
#                 adds the package name from `namespace`; here it is inserted) and print
#                 `aapt dump badging`;
#   all           unit + compile + resources.
# Usage: android_demo/tools/jvm-check.sh BUILD_DIR {unit|golden DIR|compile|resources|all}
# Tools (override with environment variables): KOTLINC (npm kotlin-compiler), JUNIT_JAR and
# HAMCREST_JAR (Debian junit4, libhamcrest-java), AAPT (Debian aapt), ANDROID_JAR (else unpacked from the
# libandroid-23-java .deb in ANDROID_DEBS, default ../shared/android beside the repo).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
build="${1:?usage: jvm-check.sh BUILD_DIR (unit | golden DIR | compile | all)}"
step="${2:-all}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"

die() { echo "jvm-check: $*" >&2; exit 2; }

find_kotlinc() {
    if [ -n "${KOTLINC:-}" ]; then echo "$KOTLINC"; return; fi
    local npm_root
    if command -v npm >/dev/null && npm_root="$(npm root -g 2>/dev/null)" \
        && [ -x "$npm_root/kotlin-compiler/bin/kotlinc" ]; then
        echo "$npm_root/kotlin-compiler/bin/kotlinc"; return
    fi
    die "kotlinc not found: npm install -g kotlin-compiler (or set KOTLINC)"
}

KOTLINC="$(find_kotlinc)"
KOTLIN_LIB="$(cd "$(dirname "$(readlink -f "$KOTLINC")")/../lib" && pwd)"
STDLIB="$KOTLIN_LIB/kotlin-stdlib.jar"
JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest.jar}"
[ -f "$STDLIB" ] || die "no kotlin-stdlib.jar beside $KOTLINC"

main_src="$here/app/src/main/java"
test_src="$here/app/src/test/java"
stub_src="$here/litert-stub"

# Rebuild only when the sources (or the compiler) changed.
stamp_of() { { "$KOTLINC" -version 2>&1 | head -1; cat "$@"; } | sha256sum | cut -d' ' -f1; }
kotlin_files() { find "$@" -name '*.kt' | LC_ALL=C sort; }

build_jvm() {
    [ -f "$JUNIT_JAR" ] && [ -f "$HAMCREST_JAR" ] \
        || die "JUnit 4 not found: apt-get install junit4 libhamcrest-java (or set JUNIT_JAR, HAMCREST_JAR)"
    local files out="$build/jvm"
    mapfile -t files < <(kotlin_files "$main_src/org/tsmtf/demo/core" "$test_src")
    local stamp; stamp="$(stamp_of "${files[@]}")"
    if [ "$(cat "$out/.stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$out" && mkdir -p "$out"
        echo "jvm-check: kotlinc ${#files[@]} files (core + tests)" >&2
        "$KOTLINC" -nowarn -jvm-target 17 -cp "$JUNIT_JAR:$HAMCREST_JAR" -d "$out/classes" "${files[@]}"
        echo "$stamp" > "$out/.stamp"
    fi
    CP="$STDLIB:$JUNIT_JAR:$HAMCREST_JAR:$out/classes"
}

android_jar() {
    if [ -n "${ANDROID_JAR:-}" ]; then echo "$ANDROID_JAR"; return; fi
    local jar="$build/sdk/usr/share/java/com.android.android-23.jar"
    if [ ! -f "$jar" ]; then
        local debs="${ANDROID_DEBS:-$repo/../shared/android}" deb
        deb="$(ls "$debs"/libandroid-23-java_*.deb 2>/dev/null | head -1)"
        [ -n "$deb" ] || die "no libandroid-23-java .deb in $debs (set ANDROID_DEBS or ANDROID_JAR)"
        command -v dpkg >/dev/null || die "dpkg is needed to unpack $deb"
        dpkg -x "$deb" "$build/sdk"
    fi
    echo "$jar"
}

case "$step" in
    unit|all)
        build_jvm
        mapfile -t tests < <(cd "$build/jvm/classes" && find . -name '*Test.class' | LC_ALL=C sort \
            | sed -e 's|^\./||' -e 's|\.class$||' -e 's|/|.|g')
        [ "${#tests[@]}" -gt 0 ] || die "no test classes compiled"
        java -cp "$CP" org.junit.runner.JUnitCore "${tests[@]}"
        ;;&
    compile|all)
        jar="$(android_jar)"
        [ -f "$jar" ] || die "platform jar $jar missing"
        mapfile -t files < <(kotlin_files "$main_src" "$stub_src")
        out="$build/android"
        stamp="$(stamp_of "${files[@]}" "$jar")"
        if [ "$(cat "$out/.stamp" 2>/dev/null)" != "$stamp" ]; then
            rm -rf "$out" && mkdir -p "$out"
            echo "jvm-check: kotlinc ${#files[@]} files against $(basename "$jar") (API 23), no JDK" >&2
            # -no-jdk: java.* must come from android.jar too, so JDK-only APIs fail as on a device.
            "$KOTLINC" -no-jdk -no-reflect -jvm-target 1.8 -cp "$jar" -d "$out/classes" "${files[@]}"
            echo "$stamp" > "$out/.stamp"
        fi
        echo "jvm-check: app sources compile against the API-23 platform jar"
        ;;&
    resources|all)
        jar="$(android_jar)"
        aapt="${AAPT:-$(command -v aapt || true)}"
        [ -n "$aapt" ] || die "aapt not found: apt-get install aapt (or set AAPT)"
        out="$build/resources"
        rm -rf "$out" && mkdir -p "$out/manifest" "$out/gen"
        sed 's|<manifest |<manifest package="org.tsmtf.demo" |' \
            "$here/app/src/main/AndroidManifest.xml" > "$out/manifest/AndroidManifest.xml"
        "$aapt" package -f -M "$out/manifest/AndroidManifest.xml" -S "$here/app/src/main/res" \
            -I "$jar" -J "$out/gen" --min-sdk-version 24 --target-sdk-version 36 -F "$out/app-resources.apk"
        "$aapt" dump badging "$out/app-resources.apk"
        echo "jvm-check: manifest and resources package against the API-23 platform jar"
        ;;
    golden)
        dir="${3:?usage: jvm-check.sh BUILD_DIR golden DIR}"
        build_jvm
        java -cp "$CP" org.tsmtf.demo.core.GoldenCheck "$dir"
        ;;
    bench)
        build_jvm
        java -cp "$CP" org.tsmtf.demo.core.PreprocessBench "${3:-200}"
        ;;
    unit|compile) ;;
    *) die "unknown step '$step' (unit, golden DIR, bench, compile, resources, all)" ;;
esac
