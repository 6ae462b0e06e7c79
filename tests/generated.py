"""One real generation shared by the tests that need a whole :class:`GenerationResult` (shipped
checkpoints; loaded once per test process)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def pipeline():
    from unihm_core.pipeline import Pipeline

    return Pipeline.load()


@lru_cache(maxsize=4)
def result(example: str = "mug_into_bowl", hand: str = "allegro", physics: bool = False):
    """The bundled example's instruction, seed 0, refinement on."""
    from unihm_core.data.examples import EXAMPLES_DIR, load_example
    from unihm_core.pipeline import GenerateOptions

    ex = load_example(EXAMPLES_DIR / example)
    return pipeline().generate(ex["rgb"], ex["depth"], ex["intrinsics"], ex["instruction"], hand=hand, seed=0,
                               options=GenerateOptions(physics=physics))
