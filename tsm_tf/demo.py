"""The end-to-end demo on the embedded synthetic dataset (``make demo``).

Steps: make the synthetic set, train an online (uni-directional) TSM, evaluate it with early
recognition, convert its streaming form to float32 and full-integer int8 TFLite, stream a
validation clip frame by frame on LiteRT with the caches carried, and measure per-frame latency
of both TFLite models side by side. Everything lands in ``--out`` with a ``demo_report.json``.

    python -m tsm_tf.demo --out runs/demo
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def frame_latency_ms(session, clip: np.ndarray, repeats: int) -> float:
    """Median ms per frame of a streaming session: the model call and the cache hand-over."""
    session.reset_states()
    frames = [session.frame.to_model(frame[None]) for frame in clip]
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        session.set_frame(frames[index % len(frames)])
        session.run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run_demo(out_dir: str | os.PathLike, *, epochs: int | None = None, num_train: int = 960,
             num_val: int = 240, latency_repeats: int = 200, overwrite: bool = True) -> dict:
    """Run every step; return (and write) the report."""
    import keras

    from tsm_tf.data.pipeline import build_dataset
    from tsm_tf.data.synthetic import SYNTHETIC_CLASSES, generate_synthetic_dataset
    from tsm_tf.evaluate import evaluate
    from tsm_tf.export import float32_tensor_ops
    from tsm_tf.export.exporter import ExportOptions, export_model
    from tsm_tf.io_utils import atomic_write_json
    from tsm_tf.profile import model_cost
    from tsm_tf.runtime.session import StreamingSession
    from tsm_tf.train import TrainConfig, train

    out = Path(out_dir)
    started = time.perf_counter()
    report: dict = {"steps": {}}

    _say("1/5 synthetic dataset (8 classes told apart only by motion over time)")
    data_dir = out / "data"
    summary = generate_synthetic_dataset(data_dir, num_train=num_train, num_val=num_val,
                                         verbose=False)
    report["steps"]["data"] = {k: summary[k] for k in ("num_train", "num_val", "num_frames",
                                                        "size", "seconds")}

    _say("2/5 training an online (uni-directional) TSM from scratch")
    run_dir = out / "online_tsm"
    result = train(TrainConfig(dataset="synthetic", root=str(data_dir), shift="unidirectional",
                               epochs=epochs, output_dir=str(run_dir), overwrite=overwrite))
    model = keras.saving.load_model(result["best_model"], compile=False)
    config = model.tsm_config
    cost = model_cost(model)
    report["steps"]["train"] = {
        "best_val_accuracy": result["best_val_accuracy"], "epochs": result["epochs_run"],
        "seconds": result["seconds"], "model": config, **cost,
    }
    _say(f"   best val top-1 {100 * result['best_val_accuracy']:.1f}% "
         f"({cost['params']:,} parameters, {cost['macs'] / 1e6:.0f}M multiply-adds per clip)")

    _say("3/5 evaluating (1 clip, centre crop) with early recognition")
    val_list = str(data_dir / "val.txt")
    scores = evaluate(model, dataset="synthetic", root=str(data_dir), list_file=val_list,
                      protocol="center", early=[0.25, 0.5, 0.75, 1.0],
                      out_dir=str(out / "test"), json_path=str(out / "test" / "report.json"),
                      class_names=list(SYNTHETIC_CLASSES), verbose=False)
    report["steps"]["test"] = {"top1": scores["top1"], "top5": scores["top5"],
                               "mean_class_accuracy": scores["mean_class_accuracy"],
                               "early": scores.get("early")}
    _say(f"   top-1 {100 * scores['top1']:.1f}%, top-5 {100 * scores['top5']:.1f}%")

    _say("4/5 converting the streaming model to float32 and int8 TFLite (with sidecars)")
    exported = export_model(run_dir, out, ExportOptions(
        precisions=("float32", "int8"), mode="streaming", num_calib=16, verbose=False,
        calib={"dataset": "synthetic", "root": str(data_dir)}))
    tflite_paths = {sidecar["conversion"]["precision"]: Path(sidecar["files"]["tflite"])
                    for sidecar in exported}
    flatbuffers = {kind: path.read_bytes() for kind, path in tflite_paths.items()}
    report["steps"]["convert"] = {
        kind: {"tflite": str(tflite_paths[kind]), "bytes": len(fb),
               "float32_ops": len(float32_tensor_ops(fb))}
        for kind, fb in flatbuffers.items()
    }

    _say("5/5 streaming a validation clip frame by frame on LiteRT, and timing it")
    val_data = build_dataset("synthetic", root=str(data_dir), list_file=val_list,
                             num_segments=config["num_segments"],
                             input_size=config["input_size"][0], batch_size=1, training=False)
    clip, label = next(iter(val_data))
    clip, label = np.asarray(clip)[0], int(np.asarray(label)[0])
    keras_frames = np.asarray(model.frame_logits_model()(clip[None], training=False))[0]
    streamed = {}
    for kind, flatbuffer in flatbuffers.items():
        session = StreamingSession.open(flatbuffer, num_threads=2)
        logits = session.run_clip(clip)
        running = np.cumsum(logits, axis=0)  # online prediction: running sum of frame logits
        streamed[kind] = {
            "per_frame_prediction": [SYNTHETIC_CLASSES[i] for i in running.argmax(-1)],
            "max_abs_diff_vs_keras": float(np.abs(logits - keras_frames).max()),
            "ms_per_frame": frame_latency_ms(session, clip, latency_repeats),
        }
    streamed["label"] = SYNTHETIC_CLASSES[label]
    streamed["int8_over_float32_latency"] = (streamed["int8"]["ms_per_frame"]
                                             / streamed["float32"]["ms_per_frame"])
    report["steps"]["stream"] = streamed
    for kind in flatbuffers:
        _say(f"   {kind:>7}: {streamed[kind]['ms_per_frame']:.2f} ms/frame, "
             f"final prediction {streamed[kind]['per_frame_prediction'][-1]!r} "
             f"(label {streamed['label']!r}), max |logit - keras| "
             f"{streamed[kind]['max_abs_diff_vs_keras']:.2g}")
    report["seconds"] = time.perf_counter() - started
    atomic_write_json(out / "demo_report.json", report)
    _say(f"done in {report['seconds']:.0f} s; report: {out / 'demo_report.json'}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the synthetic recipe's)")
    parser.add_argument("--num-train", type=int, default=960, help="synthetic training clips")
    parser.add_argument("--num-val", type=int, default=240, help="synthetic validation clips")
    args = parser.parse_args(argv)
    try:
        report = run_demo(args.out, epochs=args.epochs, num_train=args.num_train,
                          num_val=args.num_val)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"top1": report["steps"]["test"]["top1"],
                      "seconds": round(report["seconds"], 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
