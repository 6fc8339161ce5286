"""PatchSet (legacy_mllib_tracking._patching) on plain Python classes: no Spark, no MLflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legacy_mllib_tracking._patching import PatchSet


def _make_classes() -> tuple[type, type]:
    """Return fresh (Base, Child): Base owns ``fit``; Child owns ``owned`` and inherits ``fit``."""

    class Base:
        def fit(self, x: int) -> str:
            return f"base-{x}"

    class Child(Base):
        def owned(self, x: int) -> str:
            return f"owned-{x}"

    return Base, Child


def _tagging(tag: str, calls: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Return a ``make`` that wraps the original, records ``tag`` and prefixes the result."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(tag)
            return f"{tag}({original(self, *args, **kwargs)})"

        wrapper.original = original  # type: ignore[attr-defined]
        return wrapper

    return make


def test_patch_of_an_owned_attribute_is_restored_to_the_same_object() -> None:
    """Undoing a patch of an attribute the class defines puts back the identical function."""
    _, child = _make_classes()
    before = child.__dict__["owned"]
    patches = PatchSet()
    patches.patch(child, "owned", _tagging("ours", []))
    assert child.__dict__["owned"] is not before
    assert child().owned(1) == "ours(owned-1)"

    patches.undo()

    assert child.__dict__["owned"] is before
    assert child().owned(1) == "owned-1"


def test_make_receives_the_owned_attribute_itself() -> None:
    """For an attribute the class owns, ``make`` is called with the class's own function."""
    _, child = _make_classes()
    seen: list[object] = []

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        seen.append(original)
        return original

    PatchSet().patch(child, "owned", make)
    assert seen == [child.__dict__["owned"]]


def test_patch_of_an_inherited_attribute_is_undone_by_deleting_the_override() -> None:
    """Undoing a patch of an inherited attribute deletes the override instead of pinning a copy."""
    base, child = _make_classes()
    assert "fit" not in child.__dict__
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("ours", []))
    assert "fit" in child.__dict__
    assert child().fit(2) == "ours(base-2)"

    patches.undo()

    assert "fit" not in child.__dict__
    assert child.fit is base.fit  # type: ignore[attr-defined]

    def later(self: Any, x: int) -> str:
        return f"later-{x}"

    base.fit = later  # type: ignore[attr-defined]
    assert child().fit(3) == "later-3"


def test_inherited_original_reaches_a_base_patch_made_after_ours() -> None:
    """The ``original`` given to ``make`` finds the base attribute at call time, not patch time."""
    base, child = _make_classes()
    calls: list[str] = []
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("ours", calls))
    wrapper = child.__dict__["fit"]

    def base_patched_later(self: Any, x: int) -> str:  # e.g. mlflow's safe_patch of Estimator.fit
        calls.append("later-base")
        return f"later-base-{x}"

    base.fit = base_patched_later  # type: ignore[attr-defined]

    assert wrapper.original(child(), 4) == "later-base-4"
    assert child().fit(5) == "ours(later-base-5)"
    assert calls == ["later-base", "ours", "later-base"]
    patches.undo()
    assert child().fit(6) == "later-base-6"


def test_inherited_original_is_looked_up_from_the_patched_class_for_a_subclass_instance() -> None:
    """A grandchild instance calling the patched Child method still reaches Base's function once."""
    _, child = _make_classes()
    grandchild = type("Grandchild", (child,), {})
    calls: list[str] = []
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("ours", calls))

    assert grandchild().fit(7) == "ours(base-7)"
    assert calls == ["ours"]
    patches.undo()


def test_two_patches_of_one_attribute_are_undone_in_reverse_order() -> None:
    """Two stacked patches of one inherited attribute nest, and undo peels both off in reverse."""
    base, child = _make_classes()
    calls: list[str] = []
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("first", calls))
    first = child.__dict__["fit"]
    patches.patch(child, "fit", _tagging("second", calls))
    second = child.__dict__["fit"]
    assert second.original is first  # the second patch wraps the first
    assert child().fit(1) == "second(first(base-1))"
    assert calls == ["second", "first"]

    patches.undo()

    # In forward order the deletion would come first and re-setting ``first`` would pin it.
    assert "fit" not in child.__dict__
    assert child().fit(1) == "base-1"
    assert base.__dict__["fit"](child(), 1) == "base-1"


def test_two_patches_of_an_owned_attribute_restore_the_original_last() -> None:
    """Undoing two stacked patches of an owned attribute ends with the class's own function."""
    _, child = _make_classes()
    before = child.__dict__["owned"]
    patches = PatchSet()
    patches.patch(child, "owned", _tagging("first", []))
    patches.patch(child, "owned", _tagging("second", []))
    assert child().owned(2) == "second(first(owned-2))"

    patches.undo()

    # In forward order ``before`` would be set first, then overwritten by the first wrapper.
    assert child.__dict__["owned"] is before


def test_second_undo_is_a_no_op() -> None:
    """A second undo changes nothing, even after the class was patched again by someone else."""
    base, child = _make_classes()
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("ours", []))
    patches.patch(child, "owned", _tagging("ours", []))
    patches.undo()
    assert len(patches) == 0

    def theirs(self: Any, x: int) -> str:
        return f"theirs-{x}"

    child.fit = theirs  # type: ignore[attr-defined]
    child.owned = theirs  # type: ignore[attr-defined]
    patches.undo()

    assert child.__dict__["fit"] is theirs
    assert child.__dict__["owned"] is theirs
    assert "fit" in base.__dict__


def test_undo_tolerates_an_override_already_removed() -> None:
    """Undo of an inherited patch whose override someone already deleted does not raise."""
    _, child = _make_classes()
    patches = PatchSet()
    patches.patch(child, "fit", _tagging("ours", []))
    del child.fit  # type: ignore[attr-defined]

    patches.undo()

    assert "fit" not in child.__dict__
    assert len(patches) == 0


def test_len_counts_patches_until_undo() -> None:
    """``len()`` is the number of recorded patches, including repeats, and 0 after undo."""
    _, child = _make_classes()
    patches = PatchSet()
    assert len(patches) == 0
    patches.patch(child, "fit", _tagging("a", []))
    assert len(patches) == 1
    patches.patch(child, "fit", _tagging("b", []))
    patches.patch(child, "owned", _tagging("c", []))
    assert len(patches) == 3
    patches.undo()
    assert len(patches) == 0


def test_patchset_can_be_reused_after_undo() -> None:
    """After undo, the same PatchSet patches again and undoes again."""
    _, child = _make_classes()
    before = child.__dict__["owned"]
    patches = PatchSet()
    patches.patch(child, "owned", _tagging("one", []))
    patches.undo()
    patches.patch(child, "owned", _tagging("two", []))
    assert child().owned(1) == "two(owned-1)"
    assert len(patches) == 1
    patches.undo()
    assert child.__dict__["owned"] is before
