"""The quality gate every scored file passes before anything ships: better than chance by a clear margin (a
diverged run, at chance level, never ships), and no more than the recipe allows below the stage before it
(pruning may not fall off a cliff any more than quantization may). Test-set scores through onnxruntime, the
figures the manifest reports; a refusal is an AccuracyGateError (exit 3) and nothing is written."""

from __future__ import annotations

import logging

from edgedigits.errors import AccuracyGateError

log = logging.getLogger(__name__)
ABOVE_CHANCE = 0.1  # a score must lie at least this share of the way from chance to 100%


def limit(recipe, stage: str) -> float | None:
    """The largest drop, in points, stage `stage` may lose against the scored stage before it."""
    tables = {"structured": recipe.structured, "pruned": recipe.prune, "int8": recipe.quantize}
    return tables[stage].max_accuracy_drop if stage in tables else None


def check(run, result) -> None:
    """Refuse `result` (a stage just scored) when it is near chance or dropped too far from the stage before."""
    score = result.facts["test_accuracy"]
    chance = run.task.chance(run)
    floor = chance + ABOVE_CHANCE * (100.0 - chance)
    if not score >= floor:  # NaN fails too
        raise AccuracyGateError(f"{result.stage} scores {score:.2f}% on the test set, not clearly above chance "
                                f"({chance:.1f}%; at least {floor:.1f}% is needed): the run did not learn; nothing "
                                f"written")
    scored = [r for r in run.scored().values() if r is not result]
    allowed = limit(run.recipe, result.stage)
    if not scored or allowed is None:
        return
    before = scored[-1]
    drop = before.facts["test_accuracy"] - score
    if drop > allowed:
        raise AccuracyGateError(f"{result.stage} lost {drop:.2f} accuracy points against {before.stage} "
                                f"({before.facts['test_accuracy']:.2f}% -> {score:.2f}%, limit {allowed}); nothing "
                                f"written")
