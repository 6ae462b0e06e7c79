"""One language module: the generator's instructions parse back to their task, target and place.

Sequences are drawn as the data engine's build draws them (scene, task, place, five
instructions per sequence, seen and unseen language), without the motion synthesis; every
instruction is parsed by grounding's scene-free parser (:func:`parse_instruction`).
"""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core import language
from unihm_core.data import instructions as gen
from unihm_core.data.dataset import choose_place, choose_task
from unihm_core.data.scenes import sample_scene
from unihm_core.perception import grounding as gr
from unihm_core.planning import trajectory

N_SEQUENCES = 120


def test_one_vocabulary_everywhere():
    from unihm_core.data import motions
    from unihm_core.pipeline import MAX_INSTRUCTION_CHARS

    assert gen.TASKS == motions.TASKS == trajectory.TASKS == language.TASKS
    assert gen.LOCATIONS == language.LOCATIONS and gen.RELATIONS == language.RELATIONS
    assert set(gen.SUPERLATIVES) <= set(language.SUPERLATIVES)
    assert gr.TASKS == language.TASK_FAMILIES and set(language.FAMILY_OF_TASK.values()) == set(gr.TASKS)
    assert gr.MAX_INSTRUCTION_CHARS == MAX_INSTRUCTION_CHARS == language.MAX_INSTRUCTION_CHARS == 500
    assert gr.COLOR_WORDS is language.COLOUR_WORDS
    # every data colour name has a perceived name, every perceived name a word
    from unihm_core.data.objects import COLOUR_RGB
    from unihm_core.perception.colors import COLOR_NAMES

    assert set(language.DATA_COLOUR_NAMES) == set(COLOUR_RGB)
    assert {n for v in language.DATA_COLOUR_NAMES.values() for n in v} <= set(COLOR_NAMES)
    assert set(COLOR_NAMES) <= set(language.COLOUR_WORDS.values())
    # the task rule: family + verb (+ destination) -> task
    assert trajectory.resolve_task("push_pull", "slide", "front") == "pull"
    assert language.task_of("push_pull", "slide") == "push" and language.task_of("push_pull", "tug") == "pull"
    assert language.task_of("rotate_pour", "decant") == "pour" and language.task_of("open_close", "snap") == "close"
    for task in language.TASKS:
        assert language.task_of(task) == task


@pytest.fixture(scope="module")
def build():
    """(task, place, instruction, scene) for N_SEQUENCES sequences drawn like a build."""
    out = []
    for index in range(N_SEQUENCES):
        rng = np.random.default_rng([17, index])
        split = "unseen" if rng.random() < 0.3 else "seen"
        scene = sample_scene(rng, split=split)
        task = choose_task(scene.target.instance, scene, rng)
        place = choose_place(scene, rng)[0] if task == "pick_place" else None
        for ins in gen.generate_instructions(task, scene, rng, place=place, n=5, split=split):
            out.append((task, place, ins, scene))
    return out


def _colour_ok(attrs: dict, npr) -> bool:
    c = attrs.get("colour")
    return c is None or bool(set(language.DATA_COLOUR_NAMES[c]) & set(npr.colors))


def test_every_generated_instruction_parses_back_to_task_target_and_place(build):
    failures = []
    for task, place, ins, scene in build:
        p = gr.parse_instruction(ins.text)
        why = []
        if p.family != language.FAMILY_OF_TASK[task]:
            why.append(f"family {p.family}")
        elif p.task != task:
            why.append(f"task {p.task} (verb '{p.verb}', location {p.location})")
        target = scene.target.instance.type_name
        if not p.target.types or target not in p.target.types:
            why.append(f"target noun {p.target.noun!r} ({p.target_text!r}) does not denote {target}")
        elif not _colour_ok(ins.target_attrs, p.target):
            why.append(f"target colour {ins.target_attrs['colour']} read as {p.target.colors}")
        if place is not None and "location" in place:
            if p.location != place["location"]:
                why.append(f"location {p.location} for {place['location']} (place {p.place_text!r})")
        elif place is not None:
            rec = scene.objects[place["receptacle_index"]].instance.type_name
            if p.place is None or not p.place.types or rec not in p.place.types:
                why.append(f"receptacle {rec} not read from {p.place_text!r}")
            elif not _colour_ok(ins.place_attrs, p.place):
                why.append(f"receptacle colour {ins.place_attrs['colour']} read as {p.place.colors}")
        if why:
            failures.append(f"{task}: {ins.text!r}: " + "; ".join(why))
    assert len(build) == 5 * N_SEQUENCES
    assert not failures, f"{len(failures)} of {len(build)} do not round-trip:\n" + "\n".join(failures[:40])


def test_round_trip_covers_every_task_and_register(build):
    tasks = {t for t, *_ in build}
    registers = {ins.register for _, _, ins, _ in build}
    assert tasks == set(language.TASKS)
    assert registers >= {"imperative", "polite", "question", "desire", "two_step", "descriptive", "terse"}
    assert any(ins.unseen_only for _, _, ins, _ in build)  # unseen-only verbs, nouns and frames too
