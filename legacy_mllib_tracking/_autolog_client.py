"""autolog's own ``MlflowClient`` calls, rewritten while a tuning fit is in progress (SPEC 5).

Plain autolog (mlflow 2.x and 3.x) misses three points of the run-layout contract; while a fit
runs inside :func:`fixing`, the calls autolog makes for that fit's parent and children are
rewritten on their way to the store, so the fixes cost no extra round trip:

- children of a tuned ``Pipeline`` get their tuned params under bare names (``maxDepth``) next to
  autolog's qualified ones (``DecisionTreeClassifier.maxDepth``);
- a second fit into the same run gets ``_<uuid>`` suffixes on every param, tag and artifact name the
  parent already has, instead of "Changing param values is not allowed", a lost fit or an
  overwritten file;
- children get a run name saying which map they tested (and which fit, when the run holds more
  than one) and their child key ``<fit_id>:<map index>``.

:func:`install_client_fixes` patches four ``MlflowClient`` methods through one helper: each call
is bound to the method's signature and handed to a rewrite function that changes its arguments
in place; calls for other runs pass through untouched.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import posixpath
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking import _compat
from legacy_mllib_tracking._limits import safe_key
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._tuning import grid_params, grid_run_names
from legacy_mllib_tracking._writer import FitContext
from legacy_mllib_tracking.keys import (
    TAG_CHILD_KEY,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
)

__all__ = ["Fix", "fixing", "install_client_fixes"]


@dataclass
class Fix:
    """What the client fixes need for one autologged fit, and what they saw of it."""

    ctx: FitContext
    params_by_map: list[dict[str, str]]
    names_by_map: list[str]
    next_child: int = 0
    #: The param names autolog logged on the parent (before any suffix).
    logged_params: set[str] = field(default_factory=set)
    #: Map index -> the id of the child run autolog created for it.
    children: dict[int, str] = field(default_factory=dict)
    #: Artifact folder ("" for the root) -> the paths the parent had there, read on first use.
    taken_artifacts: dict[str, frozenset[str]] = field(default_factory=dict)


_lock = threading.Lock()
_parents: dict[str, Fix] = {}
#: Child run id -> its fit, its map index and the param names already logged on it.
_children: dict[str, tuple[Fix, int, set[str]]] = {}


@contextmanager
def fixing(ctx: FitContext, tuner: Any) -> Iterator[Fix]:
    """Apply the client fixes to ``ctx``'s parent and its new children while the block runs."""
    fix = Fix(ctx, grid_params(tuner), grid_run_names(tuner))
    with _lock:
        _parents[ctx.parent_run_id] = fix
    try:
        yield fix
    finally:
        with _lock:
            _parents.pop(ctx.parent_run_id, None)
            for run_id in fix.children.values():
                _children.pop(run_id, None)


def _fix_for_parent(run_id: Any) -> Fix | None:
    if run_id is None:
        return None
    with _lock:
        return _parents.get(run_id)


#: A rewrite: gets one call's bound arguments (``self`` included), may change them in place, and
#: makes the call with the second argument, returning what it returns.
_Rewrite = Callable[[inspect.BoundArguments, Callable[[], Any]], Any]


def _patch(patches: PatchSet, owner: type, name: str, rewrite: _Rewrite) -> None:
    """Patch ``owner.name``: calls made while a fit is in :func:`fixing` go through ``rewrite``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            if not _parents:  # fast path: no autologged tuning fit in progress
                return original(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            return rewrite(bound, lambda: original(*bound.args, **bound.kwargs))

        return patched

    patches.patch(owner, name, make)


def _suffixed(ctx: FitContext, file_name: str) -> str:
    """``estimator_info.json`` -> ``estimator_info_<fit_id>.json`` (no dot: ``<name>_<fit_id>``)."""
    stem, dot, ext = file_name.rpartition(".")
    return f"{stem}_{ctx.fit_id}.{ext}" if dot else f"{ext}_{ctx.fit_id}"


def _renamed(entities: Any, key: Callable[[str], str]) -> list[Any]:
    """``entities`` with each name ``key(name)`` (a suffix for a name the parent already has)."""
    out = []
    for entity in entities or ():
        name = key(entity.key)
        out.append(entity if name == entity.key else _compat.renamed(entity, name))
    return out


def _accepted_names(fix: Fix, arguments: dict[str, Any]) -> None:
    """Map names MLflow would refuse in a ``log_batch`` call (``_limits.safe_key``), in place."""
    for kind in ("metrics", "params", "tags"):
        entities = arguments.get(kind)
        if not entities:
            continue
        out = []
        for entity in entities:
            name, why = safe_key(entity.key)
            if why is not None:
                with _lock:
                    if why not in fix.ctx.truncated:
                        fix.ctx.truncated.append(why)
                entity = _compat.renamed(entity, name)
            out.append(entity)
        arguments[kind] = out


def _create_run(bound: inspect.BoundArguments, call: Callable[[], Any]) -> Any:
    """A child of a fixed parent: its run name, its tuned params tag and its child key."""
    arguments = bound.arguments
    tags = dict(arguments.get("tags") or {})
    fix = _fix_for_parent(str(tags.get(TAG_PARENT_RUN_ID, "")))
    if fix is None:
        return call()
    with _lock:
        index = fix.next_child
        fix.next_child += 1
    if index < len(fix.names_by_map):
        name = fix.ctx.child_run_name(fix.names_by_map[index])
        tags.setdefault(TAG_RUN_NAME, name)
        if "run_name" in bound.signature.parameters and not arguments.get("run_name"):
            arguments["run_name"] = name
    if index < len(fix.params_by_map):
        tags[TAG_TUNED_PARAMS] = json.dumps(list(fix.params_by_map[index]))
    # replay's idempotency key: a fit whose tracking stopped mid-way spools every child, and
    # replay completes the ones autolog created instead of creating them again
    tags[TAG_CHILD_KEY] = f"{fix.ctx.fit_id}:{index}"
    arguments["tags"] = tags
    run = call()
    with _lock:
        fix.children[index] = run.info.run_id
        _children[run.info.run_id] = (fix, index, set())
    return run


def _log_batch(bound: inspect.BoundArguments, call: Callable[[], Any]) -> Any:
    """On a fixed parent: suffixes for taken names. On its child: the tuned params under bare
    names. On both: names MLflow would refuse, made acceptable."""
    from mlflow.entities import Param

    arguments = bound.arguments
    run_id = arguments.get("run_id")
    fix = _fix_for_parent(run_id)
    if fix is not None:
        params = arguments.get("params")
        fix.logged_params.update(p.key for p in params or ())
        arguments["params"] = _renamed(params, fix.ctx.param_key)
        arguments["tags"] = _renamed(arguments.get("tags"), fix.ctx.tag_key)
        _accepted_names(fix, arguments)
        return call()
    with _lock:
        child = None if run_id is None else _children.get(run_id)
    if child is None:
        return call()
    fix, index, done = child
    _accepted_names(fix, arguments)
    params = list(arguments.get("params") or ())
    present = {p.key for p in params} | done
    wanted = fix.params_by_map[index] if index < len(fix.params_by_map) else {}
    extra = [Param(k, v) for k, v in wanted.items() if k not in present]
    done.update(p.key for p in params)
    done.update(p.key for p in extra)
    arguments["params"] = params + extra
    return call()


def _artifact_taken(fix: Fix, path: str) -> bool:
    """Whether the parent already has an artifact at ``path`` (``dir/name`` or ``name``).

    Only a repeated fit's parent can (a first fit's parent holds none of autolog's files), so
    only a repeated fit lists the parent's artifacts, once per folder. An earlier fit that
    logged no such file (a plain estimator autolog logged into the same run) leaves the name
    alone. When the store cannot list them, every name counts as taken: suffixed, never
    overwritten.
    """
    if not fix.ctx.repeated:
        return False
    folder = posixpath.dirname(path)
    with _lock:
        taken = fix.taken_artifacts.get(folder)
    if taken is None:
        try:
            listed = fix.ctx.client.list_artifacts(fix.ctx.parent_run_id, folder or None)
            taken = frozenset(str(a.path) for a in listed)
        except Exception:
            return True
        with _lock:
            fix.taken_artifacts[folder] = taken
    return path in taken


def _log_dict(bound: inspect.BoundArguments, call: Callable[[], Any]) -> Any:
    """An ``artifact_file`` the parent already has gets the fit's suffix.

    ``MlflowClient.log_dict`` hands its file to ``log_artifact`` (mlflow 2.17 and 3.17), which
    then sees a name the parent does not have and keeps it: one suffix, not two.
    """
    fix = _fix_for_parent(bound.arguments.get("run_id"))
    name = str(bound.arguments.get("artifact_file", ""))
    if fix is not None and _artifact_taken(fix, name):
        bound.arguments["artifact_file"] = _suffixed(fix.ctx, name)
    return call()


def _log_artifact(bound: inspect.BoundArguments, call: Callable[[], Any]) -> Any:
    """A file whose name the parent already has is logged from a copy with the fit's suffix."""
    fix = _fix_for_parent(bound.arguments.get("run_id"))
    path = str(bound.arguments.get("local_path", ""))
    name = os.path.basename(path)
    folder = str(bound.arguments.get("artifact_path") or "")
    if fix is None or not os.path.isfile(path):
        return call()
    if not _artifact_taken(fix, posixpath.join(folder, name) if folder else name):
        return call()
    with tempfile.TemporaryDirectory() as tmp:
        renamed = os.path.join(tmp, _suffixed(fix.ctx, name))
        shutil.copyfile(path, renamed)
        bound.arguments["local_path"] = renamed
        return call()


def install_client_fixes(patches: PatchSet) -> None:
    """Patch ``MlflowClient`` so autolog's writes for a :func:`fixing` fit follow the contract."""
    from mlflow.tracking import MlflowClient

    _patch(patches, MlflowClient, "create_run", _create_run)
    _patch(patches, MlflowClient, "log_batch", _log_batch)
    _patch(patches, MlflowClient, "log_dict", _log_dict)
    _patch(patches, MlflowClient, "log_artifact", _log_artifact)
