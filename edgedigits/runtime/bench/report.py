"""What `edgedigits bench` writes: the table (text, markdown, CSV, JSON), the header saying how and on what it
measured, and the plot where matplotlib is installed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgedigits import tables
from edgedigits.errors import InputError, one_line
from edgedigits.runtime.bench import measure, targets
from edgedigits.runtime.bench.measure import Row, Settings
from edgedigits.runtime.bench.timing import machine_info
from edgedigits.runtime.model.artifacts import ensure_writable_dir

log = logging.getLogger(__name__)


COLUMNS = [  # (header, Row attribute, format)
    ("model", "model", "{}"),
    ("variant", "variant", "{}"),
    ("dataset", "dataset", "{}"),
    ("acc %", "accuracy", "{:.2f}"),
    ("params", "parameters", "{:,}"),
    ("non-zero", "nonzero_parameters", "{:,}"),
    ("bytes", "bytes", "{:,}"),
    ("gzip", "gzip_bytes", "{:,}"),
    ("p50 us", "p50_us", "{:.1f}"),
    ("p90 us", "p90_us", "{:.1f}"),
    ("p99 us", "p99_us", "{:.1f}"),
    ("images/s", "throughput_ips", "{:,.0f}"),
    ("INT8/fp32 p50", "int8_p50_ratio", "{:.2f}x"),
    ("INT8/fp32 images/s", "int8_ips_ratio", "{:.2f}x"),
    ("target", "target", "{}"),
]


def cells(row: Row) -> list[str]:
    return ["-" if getattr(row, attr) is None else fmt.format(getattr(row, attr)) for _, attr, fmt in COLUMNS]


def header_lines(machine: dict, settings: Settings, found: list[targets.Target]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    return [
        f"machine: {machine['cpu']}, {machine['cores']} cores, features: "
        f"{' '.join(machine['features']) or 'none of AVX2/AVX-512/VNNI/AMX'}",
        f"libraries: python {machine['python']}, {libs}",
        f"load average (1, 5, 15 min) at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on "
        f"{machine['cores']} cores",
        f"batch-1 latency: {settings.warmup} warm-up + {settings.runs} timed runs, "
        f"intra_op_num_threads={settings.latency_threads};"
        f" throughput: batch {settings.batch}, {settings.throughput_seconds:g} s, intra_op_num_threads="
        f"{settings.throughput_threads or 'all'}; accuracy: full test set",
        *(f"target {t.name}: {t.options}" for t in found),
    ]


def text_table(rows: list[Row]) -> str:
    return tables.text([[h for h, _, _ in COLUMNS]] + [cells(r) for r in rows], left={0, 1, 2, len(COLUMNS) - 1})


def markdown_table(rows: list[Row]) -> str:
    return tables.markdown([h for h, _, _ in COLUMNS], [cells(r) for r in rows])


def as_records(rows: list[Row]) -> list[dict]:
    return [{attr: getattr(r, attr) for _, attr, _ in COLUMNS} for r in rows]


def write_reports(rows, machine, header, json_path=None, csv_path=None, markdown_path=None) -> None:
    """Write the requested report files, each atomically."""
    import csv
    import io

    from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic

    if json_path:
        write_json_atomic(json_path, {"machine": machine, "settings": header, "rows": as_records(rows)})
    if csv_path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[attr for _, attr, _ in COLUMNS])
        writer.writeheader()
        writer.writerows(as_records(rows))
        write_bytes_atomic(csv_path, buffer.getvalue().encode())
    if markdown_path:
        text = "\n".join(f"> {line}" for line in header) + "\n\n" + markdown_table(rows) + "\n"
        write_bytes_atomic(markdown_path, text.encode())


def measure_and_write(paths: list[str], settings: Settings, target_names: list[str] | None, out_dir, json_path=None,
                      csv_path=None, markdown_path=None, png_path=None) -> tuple[list[Row], list[str], list]:
    """`edgedigits bench`: measure every model on every target, write the reports (and the plot when matplotlib is
    installed); returns the rows, the problems (models or targets that failed) and the files written."""
    import importlib.util

    plotting = importlib.util.find_spec("matplotlib") is not None  # in the [train] extra, not in the runtime
    if png_path and not plotting:
        raise InputError("--png needs matplotlib: pip install matplotlib (or 'edgedigits[train]')")
    # What cannot be measured at all is one line of error, before the header says how it would have been measured
    models = measure.find_models(paths)
    found, missing = targets.select(target_names)
    if not found:
        raise InputError("; ".join(missing) or "no execution target available")
    usable, problems = measure.usable(models)
    if not usable:
        raise InputError(problems[0] if len(problems) == 1 else f"no model can be measured: {'; '.join(problems)}")
    out = ensure_writable_dir(out_dir)
    for report in (json_path, csv_path, markdown_path, png_path):  # every report writable before measuring
        if report:
            ensure_writable_dir(Path(report).parent)
    machine = machine_info()
    header = header_lines(machine, settings, found)
    for line in header:
        log.info(line)
    for problem in problems:
        log.info(f"edgedigits: {one_line(problem)}")
    rows, more = measure.run([str(p) for p in usable], settings, target_names)
    for problem in more:
        log.info(f"edgedigits: {one_line(problem)}")
    problems += more
    if not rows:
        raise InputError("nothing was measured (each failure is named above)")
    written = {"json_path": json_path or out / "bench.json", "csv_path": csv_path or out / "bench.csv",
               "markdown_path": markdown_path or out / "bench.md"}
    write_reports(rows, machine, header, **written)
    written = list(written.values())
    if plotting:
        written.append(png_path or out / "bench.png")
        from edgedigits.runtime.bench.plot import plot

        plot(rows, written[-1], f"edgedigits bench on {machine['cpu']} ({machine['cores']} cores)")
    else:
        log.info("no bench.png: the plot needs matplotlib (pip install matplotlib)")
    return rows, problems, written
