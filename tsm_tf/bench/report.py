"""Markdown tables and bar charts from a results CSV, beside the paper's Table 8."""

from __future__ import annotations

import os
from pathlib import Path

from tsm_tf.bench.results import read_results
from tsm_tf.io_utils import atomic_write_text

# TSM paper (Lin et al., ICCV 2019), Table 8: online TSM-MobileNetV2, frames per second.
PAPER_FPS = {"note8": 29.0, "pixel1": 21.1, "rpi4": 14.4, "jetson_nano": 20.9,
             "jetson_nano_gpu": 74.6}
PAPER_LATENCY_MS = {"2D (no shift)": 4.7, "TSM": 4.8}  # the paper's per-frame latency pair


def _fmt(value, pattern: str = "{:.2f}") -> str:
    return "-" if value is None or value == "" else pattern.format(value)


def _device_key(device: str) -> str:
    return device.split("@", 1)[0].split(":", 1)[0]


def latest_rows(rows: list[dict]) -> list[dict]:
    """The last row per (device, model, measure): a rerun replaces, not duplicates."""
    latest = {}
    for row in rows:
        latest[(row["device"], row["model"], row["measure"])] = row
    return list(latest.values())


def markdown_table(rows: list[dict]) -> str:
    """One line per (device, model, measure) with every result field a reader needs."""
    lines = [
        "| device | model | role | measure | precision | threads | delegate | size MB | init ms "
        "| first ms | mean ms | median ms | p90 ms | fps | TSM vs 2D | paper fps | status |",
        "|" + "---|" * 17,
    ]
    for row in rows:
        overhead = _fmt(row.get("overhead_pct"), "{:+.1f} %")
        paper = (PAPER_FPS.get(_device_key(str(row["device"])))
                 if row.get("role") == "model" else None)
        lines.append(
            f"| {row['device']} | {row['model']} | {row.get('role') or '-'} | {row['measure']} "
            f"| {row.get('quantization') or '-'} | {_fmt(row.get('threads'), '{:.0f}')} "
            f"| {row.get('delegate') or '-'} | {_fmt(row.get('model_size_mb'))} "
            f"| {_fmt(row.get('init_ms'), '{:.1f}')} | {_fmt(row.get('first_ms'))} "
            f"| {_fmt(row.get('mean_ms'))} | {_fmt(row.get('median_ms'))} "
            f"| {_fmt(row.get('p90_ms'))} | {_fmt(row.get('fps'), '{:.1f}')} | {overhead} "
            f"| {_fmt(paper, '{:.1f}')} | {row.get('status') or '-'} |"
        )
    return "\n".join(lines) + "\n"


def paper_table() -> str:
    lines = ["| device (paper, Table 8) | online TSM-MobileNetV2 fps |", "|---|---|"]
    names = {"note8": "Galaxy Note8", "pixel1": "Pixel 1", "rpi4": "Raspberry Pi 4B",
             "jetson_nano": "Jetson Nano CPU", "jetson_nano_gpu": "Jetson Nano GPU"}
    lines += [f"| {names[key]} | {fps:.1f} |" for key, fps in PAPER_FPS.items()]
    lines.append("")
    lines.append("Paper latency per frame: 2D baseline 4.7 ms, TSM 4.8 ms (+2 %).")
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[dict], device: str, path: str | os.PathLike) -> str:
    """A PNG of fps per model and measure on one device, with the paper's fps as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['measure']}" for r in rows]
    fps = [float(r["fps"]) for r in rows]
    figure, axis = plt.subplots(figsize=(max(4.0, 1.4 * len(rows)), 3.6))
    bars = axis.bar(range(len(rows)), fps, color=["#1f77b4" if r.get("role") == "model"
                                                  else "#aaaaaa" for r in rows])
    for bar, row in zip(bars, rows, strict=True):
        text = f"{float(row['fps']):.1f}"
        if row.get("overhead_pct") is not None:
            text += f"\n{float(row['overhead_pct']):+.1f} %"
        axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8)
    paper = PAPER_FPS.get(_device_key(device))
    if paper:
        axis.axhline(paper, color="#d62728", linestyle="--", label=f"paper {paper:.1f} fps")
        axis.legend(fontsize=8)
    axis.set_ylim(0, 1.2 * max([*fps, paper or 0]))  # room for the labels above the bars
    axis.set_xticks(range(len(rows)), labels, fontsize=7)
    axis.set_ylabel("frames per second")
    axis.set_title(f"{device}: per-frame throughput (blue: TSM, grey: 2D baseline)", fontsize=9)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(path).with_name(f".{Path(path).name}.tmp.png")
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)
    return os.fspath(path)


def write_report(csv_path: str | os.PathLike, out_dir: str | os.PathLike) -> list[str]:
    """``report.md`` plus one ``<device>.png`` per device; returns the files written."""
    rows = latest_rows(read_results(csv_path))
    if not rows:
        raise ValueError(f"{csv_path} holds no result rows yet: run mobile/benchmark.py first")
    out = Path(out_dir)
    written = []
    sections = ["# Benchmark report", "", f"From `{csv_path}`.", ""]
    for device in dict.fromkeys(str(r["device"]) for r in rows):
        device_rows = [r for r in rows if str(r["device"]) == device]
        chart = out / f"{_safe(device)}.png"
        written.append(bar_chart(device_rows, device, chart))
        sections += [f"## {device}", "", markdown_table(device_rows), f"![{device}]({chart.name})",
                     ""]
    sections += ["## The paper", "", paper_table()]
    written.insert(0, atomic_write_text(out / "report.md", "\n".join(sections)))
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
