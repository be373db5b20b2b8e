"""Benchmarking exported models: where they can run (targets: one table of engines), how they are measured
(measure: accuracy, size, batch-1 latency, throughput; timing: the one way latency is timed), and what is written
(report, plot). The API: `measure_and_write` (what `edgedigits bench` does), `run`, `Settings`, `Row`."""

from edgedigits.runtime.bench.measure import Row, Settings, describe, find_models, run
from edgedigits.runtime.bench.report import measure_and_write, text_table

__all__ = ["Row", "Settings", "describe", "find_models", "measure_and_write", "run", "text_table"]
