"""A stage added the way docs/recipes.md describes: this module, one REGISTRY line and an [operators] table.

It counts the operators of the last file scored before it (the pruned model's ONNX when placed after `export`) and
records them in the manifest."""

from collections import Counter
from dataclasses import dataclass

import onnx

from edgedigits.training.stages import Result, Run


@dataclass
class Table:
    """The recipe's [operators] table; the stage runs when a recipe has one."""

    top: int = 3  # how many operator types to list


def describe(ctx: Run) -> str:
    return "count ONNX operators"


def run(ctx: Run) -> Result:
    source = ctx.last_scored()
    ops = Counter(node.op_type for node in onnx.load(str(source.path)).graph.node)
    top = ctx.recipe.tables["operators"].top
    return Result(manifest={"operators": {"stage": source.stage, "nodes": sum(ops.values()),
                                          "most_common": dict(ops.most_common(top))}})
