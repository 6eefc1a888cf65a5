"""The program keeps what survives a garbage collection out of later ones (`components.stack.freeze_survivors`),
and a capture host gets CPython's collector back exactly as it was after each run."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.stack import freeze_survivors, release_frozen
from tests.pulumi_capture import capture_stack


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> _Node:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return first


@contextmanager
def _collector_saved() -> Iterator[None]:
    callbacks, thresholds, frozen = list(gc.callbacks), gc.get_threshold(), gc.get_freeze_count()
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        gc.set_threshold(*thresholds)
        gc.enable()
        if frozen == 0:
            gc.unfreeze()


def test_survivors_of_a_collection_are_frozen_and_young_cyclic_garbage_is_still_collected() -> None:
    with _collector_saved():
        gc.collect()
        freeze_survivors()
        freeze_survivors()  # idempotent: one hook
        kept = _cycle()
        dropped = weakref.ref(_cycle())  # cyclic garbage: only the cyclic collector can free it
        frozen_before = gc.get_freeze_count()

        gc.collect(0)

        assert dropped() is None
        assert gc.get_freeze_count() > frozen_before  # `kept` and the other survivors
        assert gc.callbacks.count(gc.callbacks[-1]) == 1 and gc.callbacks[-1].__name__ == "_freeze_after_collection"
        assert kept.other is not None and kept.other.other is kept


def test_the_real_program_freezes_during_its_run_and_the_host_gets_the_collector_back() -> None:
    seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            seen.append(gc.get_freeze_count())

    with _collector_saved():
        gc.unfreeze()
        gc.callbacks.append(watch)
        callbacks, thresholds = list(gc.callbacks), gc.get_threshold()

        capture_stack("dev")

        assert max(seen) > 0  # the program froze what it had registered while it ran
        assert gc.callbacks == callbacks  # the program's hook is gone: later runs and tests are not affected
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() == 0  # everything is the collector's again


def test_a_program_that_changes_the_collector_cannot_leave_it_changed(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text("import gc\nfrom components.stack import freeze_survivors\n"
                       "gc.freeze()\nfreeze_survivors()\ngc.set_threshold(5, 5, 5)\ngc.disable()\n", encoding="utf-8")
    with _collector_saved():
        gc.unfreeze()
        gc.enable()
        callbacks, thresholds = list(gc.callbacks), gc.get_threshold()

        capture_stack("dev", program=program)

        assert gc.isenabled()
        assert gc.callbacks == callbacks
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() == 0


def test_release_frozen_undoes_freeze_survivors_for_a_long_lived_host() -> None:
    with _collector_saved():
        gc.unfreeze()
        before = list(gc.callbacks)
        freeze_survivors()
        gc.collect(0)
        assert gc.get_freeze_count() > 0

        release_frozen()

        assert gc.callbacks == before
        assert gc.get_freeze_count() == 0
        dropped = weakref.ref(_cycle())
        gc.collect()
        assert dropped() is None and gc.get_freeze_count() == 0  # collections freeze nothing any more
