"""bench.png: what `edgedigits bench` measured (rows of bench.measure.Row), drawn with matplotlib (not part of the
runtime install: the plot is made only where matplotlib is)."""

from __future__ import annotations

import numpy as np

from edgedigits import plots


def plot(rows: list, path, title: str) -> None:
    """Two panels: accuracy against gzipped size, and batch-1 p50 latency per model variant (one bar per target)."""
    import matplotlib.ticker

    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), constrained_layout=True)
    first = {}
    for r in rows:
        first.setdefault((r.model, r.variant), r)
    markers = {"pruned": "o", "int8": "s", "fp32": "^"}
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(dict.fromkeys(m for m, _ in first))}
    for model, colour in colours.items():  # one colour per model, its variants joined: the cost of each step
        points = sorted((r.gzip_bytes / 1000, r.accuracy, v) for (m, v), r in first.items() if m == model)
        left.plot([p[0] for p in points], [p[1] for p in points], color=colour, alpha=0.5, linewidth=1)
        for x, y, variant in points:
            left.scatter(x, y, marker=markers.get(variant, "D"), s=55, color=colour,
                         label=f"{model} {variant}")
    left.legend(fontsize=7, ncol=2, loc="center right", title="square = int8, circle = pruned fp32", title_fontsize=7)
    left.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    one_two_five = matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0))
    left.xaxis.set_major_locator(one_two_five)
    left.xaxis.set_major_formatter(plain)
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.margins(x=0.25, y=0.15)
    left.set_xlabel("gzipped model size (KB, log scale)")
    left.set_ylabel("test accuracy (%)")
    left.set_title("accuracy vs download size")
    left.grid(True, alpha=0.3)
    labels = [f"{m} {v}" for m, v in first]
    targets = sorted({r.target for r in rows})
    width = 0.8 / max(len(targets), 1)
    for i, target in enumerate(targets):
        values = [next((r.p50_us for r in rows if (r.model, r.variant, r.target) == (m, v, target)), 0)
                  for m, v in first]
        positions = np.arange(len(labels)) + i * width
        right.barh(positions, values, height=width, label=target)
        for y, v in zip(positions, values):
            if v:
                right.annotate(f"{v:.0f} us", (v, y), xytext=(3, 0), textcoords="offset points", va="center",
                               fontsize=7)
    right.set_yticks(np.arange(len(labels)) + width * (len(targets) - 1) / 2, labels, fontsize=8)
    right.invert_yaxis()
    right.set_xscale("log")
    right.xaxis.set_major_locator(one_two_five)
    right.xaxis.set_major_formatter(plain)
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.set_xlim(left=min(r.p50_us for r in rows) / 2, right=max(r.p50_us for r in rows) * 3)
    right.set_xlabel("batch-1 latency p50 (microseconds, one thread, log scale)")
    right.set_title("latency")
    right.legend(fontsize=8)
    right.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    plots.save(fig, path)
