#!/usr/bin/env bash
# Copies a converter output into the app's assets: MODEL.tflite and, when it exists beside it,
# MODEL.json (the sidecar; without it the app reads the copy embedded in the .tflite).
# Replaces any model imported before (the app loads the one .tflite in its assets).
# Usage: android_demo/import_model.sh MODEL.tflite     (ASSETS_DIR overrides the destination)
set -euo pipefail

die() { echo "import_model.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: import_model.sh MODEL.tflite (a streaming model from converters/to_tflite.py --mode streaming)"
model="$1"
[ -f "$model" ] || die "$model does not exist"
case "$model" in *.tflite) ;; *) die "$model is not a .tflite file" ;; esac
[ "$(head -c 8 "$model" | tail -c 4)" = "TFL3" ] || die "$model is not a TFLite flatbuffer (no TFL3 identifier)"
json="${model%.tflite}.json"
assets="${ASSETS_DIR:-$(cd "$(dirname "$0")" && pwd)/app/src/main/assets}"

if [ -f "$json" ] && command -v python3 >/dev/null; then
    # Refuse what the app would refuse at start-up, with the same reasons, before building.
    python3 - "$json" <<'PY' || exit 1
import json, sys
path = sys.argv[1]
try:
    sidecar = json.load(open(path, encoding="utf-8"))
except ValueError as error:
    sys.exit(f"import_model.sh: {path} is not valid JSON ({error})")
if sidecar.get("format") != "tsm_tf.sidecar":
    sys.exit(f"import_model.sh: {path} is not a tsm_tf.sidecar; convert with converters/to_tflite.py")
mode = sidecar.get("model", {}).get("mode")
if mode != "streaming":
    sys.exit(f"import_model.sh: {path} is a {mode} model; the app needs --mode streaming")
PY
fi

mkdir -p "$assets"
rm -f "$assets"/*.tflite "$assets"/*.json
name="$(basename "$model")"
cp "$model" "$assets/.$name.tmp" && mv "$assets/.$name.tmp" "$assets/$name"
if [ -f "$json" ]; then
    cp "$json" "$assets/.$(basename "$json").tmp" && mv "$assets/.$(basename "$json").tmp" "$assets/$(basename "$json")"
    echo "Imported $name and $(basename "$json") into $assets"
else
    echo "Imported $name into $assets (no $(basename "$json") beside it: the app reads the sidecar embedded in the model)"
fi
