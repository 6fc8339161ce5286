"""AUTOLOG mode: the only caller of ``mlflow.pyspark.ml.autolog``, plus the layout fixes of SPEC 5.

Plain autolog (mlflow 2.x and 3.x) misses three points of the run-layout contract; while a tuning
fit is in progress, this module rewrites autolog's own ``MlflowClient`` calls for that fit's parent
and children, so the fixes cost no extra round trip:

- children of a tuned ``Pipeline`` get their tuned params under bare names (``maxDepth``) next to
  autolog's qualified ones (``DecisionTreeClassifier.maxDepth``);
- a second fit into the same run gets ``_<uuid>`` suffixes on every param, tag and artifact name the
  parent already has, instead of "Changing param values is not allowed" and a lost fit;
- children get a run name saying which map they tested (and which fit, when the run holds more
  than one) and their child key ``<fit_id>:<map index>``.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking import _connect
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking._tuning import grid_params, grid_run_names
from legacy_mllib_tracking._writer import FitContext
from legacy_mllib_tracking.errors import InvalidAutologOption, TrackingNotice
from legacy_mllib_tracking.keys import (
    TAG_CHILD_KEY,
    TAG_PARENT_RUN_ID,
    TAG_RUN_NAME,
    TAG_TUNED_PARAMS,
)

__all__ = [
    "disable_autolog",
    "enable_autolog",
    "fixing",
    "install_client_fixes",
    "validate_options",
]

_logger = logging.getLogger(__name__)


def autolog_defaults() -> dict[str, Any]:
    """Return each keyword argument of ``mlflow.pyspark.ml.autolog`` with its default."""
    import mlflow.pyspark.ml

    return {
        name: parameter.default
        for name, parameter in inspect.signature(mlflow.pyspark.ml.autolog).parameters.items()
    }


def autolog_parameters() -> frozenset[str]:
    """Return the keyword arguments ``mlflow.pyspark.ml.autolog`` accepts in this mlflow."""
    import mlflow.pyspark.ml

    return frozenset(inspect.signature(mlflow.pyspark.ml.autolog).parameters)


#: The types of ``mlflow.pyspark.ml.autolog``'s options whose default (``None``) says nothing,
#: as its docstring gives them (mlflow 2.9 to 3.17); ``None`` is accepted for each as well.
_NONE_DEFAULT_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "registered_model_name": ((str,), "a str"),
    "log_model_allowlist": ((list, tuple, set, frozenset), "a list of class names (str)"),
    "extra_tags": ((Mapping,), "a dict of str to str"),
}


def _expected_type(name: str, default: Any) -> tuple[tuple[type, ...], str] | None:
    """The types ``autolog``'s option ``name`` accepts, read from its default, or ``None``."""
    if isinstance(default, bool):
        return (bool,), "a bool (True or False)"
    if default is None or default is inspect.Parameter.empty:
        return _NONE_DEFAULT_TYPES.get(name)
    return (type(default),), f"a {type(default).__name__}"


def _check_value(name: str, value: Any, default: Any) -> None:
    expected = _expected_type(name, default)
    if expected is None or (value is None and default is None):
        return
    types, described = expected
    wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    if not wrong and name == "log_model_allowlist":
        wrong = not all(isinstance(item, str) for item in value)
    if wrong:
        raise InvalidAutologOption(
            f"configure(autolog_options=...): {name!r} must be {described}, as "
            f"mlflow.pyspark.ml.autolog takes it, got {value!r} of type {type(value).__name__}"
        )


def validate_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check ``autolog_options`` against ``mlflow.pyspark.ml.autolog``'s signature: the names,
    and each value's type as the option's default (a bool option takes only a bool) or, for an
    option whose default is ``None``, its documented type says.

    Raises:
        InvalidAutologOption: an option autolog does not have, ``disable`` (use ``mode="off"``),
            or a value of the wrong type (the message names the key, the value and the type).
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidAutologOption(
            f"configure(autolog_options=...) must be a dict of mlflow.pyspark.ml.autolog keyword "
            f"arguments, got {options!r}"
        )
    accepted = autolog_parameters() - {"disable"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InvalidAutologOption(
            f"configure(autolog_options=...) names {', '.join(map(repr, unknown))}, which "
            f"mlflow.pyspark.ml.autolog does not accept; accepted: {', '.join(sorted(accepted))}"
            + ("; use configure(mode='off') instead of disable" if "disable" in unknown else "")
        )
    defaults = autolog_defaults()
    for name, value in options.items():
        _check_value(name, value, defaults.get(name))
    return dict(options)


def enable_autolog(options: Mapping[str, Any], *, spark: Any = None) -> None:
    """Call ``mlflow.pyspark.ml.autolog(exclusive=False, **options)``.

    ``exclusive=False`` because Databricks' start-up hook used ``exclusive=True``, which logs
    nothing inside a user's ``with mlflow.start_run():`` (where the old notebooks fit their
    tuners).

    On Spark Connect (``spark`` is a Connect session, or pyspark runs in Connect mode), see
    :func:`_connect_options`.
    """
    import mlflow.pyspark.ml

    kwargs = {"exclusive": False, "silent": False}
    kwargs.update(options)
    if _connect.is_connect_session(spark) or _connect.remote_mode():
        kwargs.update(_connect_options(kwargs, spark))
    mlflow.pyspark.ml.autolog(**kwargs)


def _connect_options(kwargs: Mapping[str, Any], spark: Any) -> dict[str, Any]:
    """Supply what autolog would read through ``sparkContext`` on a Connect session.

    - ``log_model_allowlist``, unless given: the list autolog would read itself (mlflow 2.x and
      3.17 read it through ``sparkContext`` and raise ``[JVM_ATTRIBUTE_NOT_SUPPORTED]``);
    - ``log_models=False`` when this process has no JVM (a remote Connect server), where
      ``mlflow.spark.log_model`` cannot copy the saved model; one :class:`TrackingNotice` says so,
      and everything else autolog logs is kept.
    """
    if spark is None:
        from mlflow.utils._spark_utils import _get_active_spark_session

        try:
            spark = _get_active_spark_session()  # type: ignore[no-untyped-call]
        except Exception:  # pragma: no cover
            spark = None
    supplied: dict[str, Any] = {}
    if not kwargs.get("log_model_allowlist"):
        supplied["log_model_allowlist"] = _connect.log_model_allowlist(spark)
        _logger.debug(
            "Spark Connect: passing mlflow's model allowlist (%d classes) to autolog, which "
            "cannot read it through sparkContext",
            len(supplied["log_model_allowlist"]),
        )
    if kwargs.get("log_models", True) and not _connect.client_has_jvm():
        supplied["log_models"] = False
        warnings.warn(
            "legacy-mllib-tracking: models are not logged on this Spark Connect session: "
            "mlflow.spark.log_model copies a pyspark.ml model through a JVM in this process, "
            "which a Spark Connect client does not have; params, metrics, child runs and "
            "artifacts are logged as usual (pass autolog_options={'log_models': False} to "
            "silence this)",
            TrackingNotice,
            stacklevel=5,
        )
    return supplied


def disable_autolog() -> None:
    """Turn pyspark.ml autologging off."""
    import mlflow.pyspark.ml

    mlflow.pyspark.ml.autolog(disable=True)


@dataclass
class _Fix:
    """What the client fixes need for one autologged fit."""

    ctx: FitContext
    params_by_map: list[dict[str, str]]
    names_by_map: list[str]
    next_child: int = 0
    logged_params: set[str] = field(default_factory=set)
    children: dict[int, str] = field(default_factory=dict)  # map index -> run id


_lock = threading.Lock()
_parents: dict[str, _Fix] = {}
_children: dict[str, tuple[_Fix, int, set[str]]] = {}


@contextmanager
def fixing(ctx: FitContext, tuner: Any) -> Iterator[_Fix]:
    """Apply the client fixes to ``ctx``'s parent and its new children while the block runs."""
    fix = _Fix(ctx, grid_params(tuner), grid_run_names(tuner))
    with _lock:
        _parents[ctx.parent_run_id] = fix
    try:
        yield fix
    finally:
        with _lock:
            _parents.pop(ctx.parent_run_id, None)
            for run_id in fix.children.values():
                _children.pop(run_id, None)


def _fix_for_parent(run_id: str | None) -> _Fix | None:
    if not _parents:  # fast path: no autologged tuning fit in progress
        return None
    if run_id is None:
        return None
    with _lock:
        return _parents.get(run_id)


def _renamed(fix: _Fix, entities: Any, kind: str) -> list[Any]:
    from mlflow.entities import Param, RunTag

    out = []
    for entity in entities or ():
        if kind == "param":
            key = fix.ctx.param_key(entity.key)
            fix.logged_params.add(entity.key)
            out.append(entity if key == entity.key else Param(key, entity.value))
        else:
            key = fix.ctx.tag_key(entity.key)
            out.append(entity if key == entity.key else RunTag(key, entity.value))
    return out


def _accepted_names(fix: _Fix, arguments: dict[str, Any]) -> None:
    """Map names MLflow would refuse in a ``log_batch`` call (``_writer.safe_key``), in place."""
    from legacy_mllib_tracking._writer import safe_key

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
                # a copy keeps every other field (mlflow 3's Metric has model and dataset ids);
                # ``_key`` backs ``.key`` on Param, RunTag and Metric from mlflow 2.9 to 3.17
                entity = copy.copy(entity)
                entity._key = name
            out.append(entity)
        arguments[kind] = out


def install_client_fixes(patches: PatchSet) -> None:
    """Patch ``MlflowClient`` so autolog's writes for a :func:`fixing` fit follow the contract."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    def make_create_run(original: Any) -> Any:
        signature = inspect.signature(original)

        def create_run(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _parents:
                return original(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            tags = dict(bound.arguments.get("tags") or {})
            fix = _fix_for_parent(str(tags.get(TAG_PARENT_RUN_ID, "")))
            if fix is None:
                return original(self, *args, **kwargs)
            with _lock:
                index = fix.next_child
                fix.next_child += 1
            if index < len(fix.names_by_map):
                name = fix.ctx.child_run_name(fix.names_by_map[index])
                tags.setdefault(TAG_RUN_NAME, name)
                if "run_name" in signature.parameters and not bound.arguments.get("run_name"):
                    bound.arguments["run_name"] = name
            if index < len(fix.params_by_map):
                tags[TAG_TUNED_PARAMS] = json.dumps(list(fix.params_by_map[index]))
            # replay's idempotency key: a fit whose tracking stopped mid-way spools every child,
            # and replay completes the ones autolog created instead of creating them again
            tags[TAG_CHILD_KEY] = f"{fix.ctx.fit_id}:{index}"
            bound.arguments["tags"] = tags
            run = original(*bound.args, **bound.kwargs)
            with _lock:
                fix.children[index] = run.info.run_id
                _children[run.info.run_id] = (fix, index, set())
            return run

        return create_run

    def make_log_batch(original: Any) -> Any:
        signature = inspect.signature(original)

        def log_batch(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _parents:
                return original(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            run_id = bound.arguments.get("run_id")
            fix = _fix_for_parent(run_id)
            if fix is not None:
                bound.arguments["params"] = _renamed(fix, bound.arguments.get("params"), "param")
                bound.arguments["tags"] = _renamed(fix, bound.arguments.get("tags"), "tag")
                _accepted_names(fix, bound.arguments)
                return original(*bound.args, **bound.kwargs)
            with _lock:
                child = None if run_id is None else _children.get(run_id)
            if child is None:
                return original(self, *args, **kwargs)
            fix, index, done = child
            _accepted_names(fix, bound.arguments)
            params = list(bound.arguments.get("params") or ())
            present = {p.key for p in params} | done
            wanted = fix.params_by_map[index] if index < len(fix.params_by_map) else {}
            extra = [Param(k, v) for k, v in wanted.items() if k not in present]
            done.update(p.key for p in params)
            done.update(p.key for p in extra)
            bound.arguments["params"] = params + extra
            return original(*bound.args, **bound.kwargs)

        return log_batch

    def make_log_dict(original: Any) -> Any:
        signature = inspect.signature(original)

        def log_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _parents:
                return original(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            fix = _fix_for_parent(bound.arguments.get("run_id"))
            if fix is not None and fix.ctx.repeated:
                stem, dot, ext = str(bound.arguments["artifact_file"]).rpartition(".")
                name = f"{stem}_{fix.ctx.fit_id}.{ext}" if dot else f"{ext}_{fix.ctx.fit_id}"
                bound.arguments["artifact_file"] = name
            return original(*bound.args, **bound.kwargs)

        return log_dict

    def make_log_artifact(original: Any) -> Any:
        signature = inspect.signature(original)

        def log_artifact(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _parents:
                return original(self, *args, **kwargs)
            bound = signature.bind(self, *args, **kwargs)
            fix = _fix_for_parent(bound.arguments.get("run_id"))
            path = str(bound.arguments.get("local_path", ""))
            if fix is None or not fix.ctx.repeated or not os.path.isfile(path):
                return original(*bound.args, **bound.kwargs)
            stem, dot, ext = os.path.basename(path).rpartition(".")
            name = f"{stem}_{fix.ctx.fit_id}.{ext}" if dot else f"{ext}_{fix.ctx.fit_id}"
            with tempfile.TemporaryDirectory() as tmp:
                renamed = os.path.join(tmp, name)
                shutil.copyfile(path, renamed)
                bound.arguments["local_path"] = renamed
                return original(*bound.args, **bound.kwargs)

        return log_artifact

    patches.patch(MlflowClient, "create_run", make_create_run)
    patches.patch(MlflowClient, "log_batch", make_log_batch)
    patches.patch(MlflowClient, "log_dict", make_log_dict)
    patches.patch(MlflowClient, "log_artifact", make_log_artifact)
