"""Pip requirements of the models autolog logs: inferred once per kind of model, bounded per fit.

``mlflow.spark.log_model`` infers a model's pip requirements by loading the saved model in a new
Python process that starts its own Spark session and records what it imports (mlflow 2.17 and
3.17; 11 s on 2 idle cores, twice per tuning fit: ``model`` and ``best_model``). The answer only
depends on what loading the model imports, so in AUTOLOG mode this module keeps the captured
modules per *kind* of model (``_model_kind.ModelKind``: the stage classes named in the saved
Spark ML metadata, the model directory's entries, the interpreter and ``sys.path``) and hands them
back to mlflow for the next model of the same kind. mlflow still maps them to packages and pins
the installed versions, so ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` come out as
plain autolog writes them. A model with a stage class not seen before is inferred again.

A fit waits at most :attr:`Settings.timeout` seconds in total for inference
(``configure(model_env_timeout=...)``); past it, its models without an answer are logged with
mlflow's fallback requirements and one :class:`TrackingWarning` says so, while the inference goes
on in the background (bounded by mlflow's own timeout) and serves later models of its kind.
A user who sets mlflow's own ``MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT`` or
``MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS`` gets inference exactly as mlflow runs it (the cache
still applies).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_mllib_tracking import _compat, _compat_requirements
from legacy_mllib_tracking._model_kind import ModelKind, local_dir, model_kind
from legacy_mllib_tracking._patching import PatchSet
from legacy_mllib_tracking.errors import TrackingWarning
from legacy_mllib_tracking.keys import (
    ENV_MLFLOW_INFERENCE_RAISE_ERRORS,
    ENV_MLFLOW_INFERENCE_TIMEOUT,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Settings",
    "clear",
    "counts",
    "install",
    "settings",
    "time_limit",
    "wait_for_background",
]

_logger = logging.getLogger(__name__)

#: Seconds one fit may wait for pip-requirement inference by default (mlflow's own limit per
#: inference is 120 s; one inference takes 11 s on 2 idle cores and a tuning fit logs two models).
DEFAULT_TIMEOUT = 30.0


@dataclass
class Settings:
    """How long a fit may wait for pip-requirement inference (set by ``configure()``)."""

    #: Seconds in total per fit; ``None`` waits as long as mlflow does.
    timeout: float | None = DEFAULT_TIMEOUT


settings = Settings()


class InferenceTimeout(Exception):
    """The fit's time for pip-requirement inference ran out; mlflow logs its fallback."""


@dataclass
class _Job:
    """One capture running in a background thread."""

    kind: ModelKind
    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[str, ...] | None = None
    error: BaseException | None = None

    def outcome(self) -> list[str]:
        if self.error is not None:
            raise self.error
        return list(self.result or ())


@dataclass
class _Fit:
    """One autologged fit's time for inference."""

    deadline: float
    warned: bool = False


_lock = threading.Lock()
_cache: dict[ModelKind, tuple[str, ...]] = {}
_jobs: dict[ModelKind, _Job] = {}
_fits: weakref.WeakKeyDictionary[Any, _Fit] = weakref.WeakKeyDictionary()
_counts: Counter[str] = Counter()
_generation = 0


def install(patches: PatchSet) -> bool:
    """Serve repeated pip-requirement inference of autologged models from this process's answers.

    Returns:
        Whether mlflow's capture could be patched
        (see ``_compat_requirements.install_requirements_capture``).
    """
    return _compat_requirements.install_requirements_capture(patches, _make_capture)


def clear() -> None:
    """Forget every answer and fit; a capture still running in the background is not kept."""
    global _generation
    with _lock:
        _generation += 1
        _cache.clear()
        _jobs.clear()
        _fits.clear()
        _counts.clear()


def counts() -> dict[str, int]:
    """How many captures were ``started``, ``reused`` from an earlier answer, and ``timed_out``."""
    with _lock:
        return {k: _counts[k] for k in ("started", "reused", "timed_out")}


def wait_for_background(timeout: float | None = None) -> bool:
    """Wait until no capture runs in the background; return whether none does."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _lock:
            jobs = list(_jobs.values())
        if not jobs:
            return True
        for job in jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.done.wait(left):
                return False


def time_limit(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds a fit may wait for inference, or ``None`` for mlflow's own behaviour.

    ``None`` when the user set ``MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT`` or
    ``MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS`` (their setting wins), or
    ``configure(model_env_timeout=None)``.
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_MLFLOW_INFERENCE_TIMEOUT) or env.get(ENV_MLFLOW_INFERENCE_RAISE_ERRORS):
        return None
    return settings.timeout


def _snapshot(path: str) -> str | None:
    """A private copy of the model directory, which mlflow deletes once the model is logged.

    Spark's files (written once, never rewritten) are hard links, the rest are copies; ``None``
    when no copy can be made (the capture then reads mlflow's directory).
    """

    def link_or_copy(src: str, dst: str) -> Any:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            return shutil.copy2(src, dst)

    copy = tempfile.mkdtemp(prefix="lmt-model-env-")
    target = os.path.join(copy, "model")
    try:
        os.mkdir(target)
        for entry in os.listdir(path):
            src, dst = os.path.join(path, entry), os.path.join(target, entry)
            if os.path.isdir(src):
                shutil.copytree(src, dst, copy_function=link_or_copy)
            else:
                shutil.copy2(src, dst)
    except OSError as error:
        _logger.debug("cannot copy %s for its pip-requirement inference: %s", path, error)
        shutil.rmtree(copy, ignore_errors=True)
        return None
    return target


def _start(
    original: Callable[..., Any],
    kind: ModelKind,
    path: str,
    flavor: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Job:
    """Start the capture of ``kind`` in a background thread (called with ``_lock`` held)."""
    job = _Job(kind, _generation)
    _jobs[kind] = job
    _counts["started"] += 1
    copy = _snapshot(path)

    def run() -> None:
        try:
            job.result = tuple(original(copy or path, flavor, *args, **kwargs))
        except BaseException as error:  # handed to the waiting log_model, which falls back
            job.error = error
        finally:
            with _lock:
                if job.result is not None and job.generation == _generation:
                    _cache[kind] = job.result
                if _jobs.get(kind) is job:
                    del _jobs[kind]
            if copy is not None:
                shutil.rmtree(os.path.dirname(copy), ignore_errors=True)
            job.done.set()

    threading.Thread(target=run, name="legacy-mllib-tracking-model-env", daemon=True).start()
    return job


def _timed_out(kind: ModelKind, limit: float, fit: _Fit | None) -> InferenceTimeout:
    """Count the time-out; warn once per fit."""
    with _lock:
        _counts["timed_out"] += 1
        first = fit is None or not fit.warned
        if fit is not None:
            fit.warned = True
    fallback = ", ".join(_compat_requirements.spark_fallback_requirements()) or "mlflow's defaults"
    message = (
        f"pip-requirement inference of the model autolog logs ({kind.describe()}) did not answer "
        f"within the {limit:g} s this fit may wait (configure(model_env_timeout=...))"
    )
    if first:
        _compat_requirements.warn_in_autolog(
            f"legacy-mllib-tracking: {message}; this fit's models without an answer are logged "
            f"with mlflow's fallback requirements ({fallback}) instead of inferred ones. The "
            "inference goes on in the background (up to mlflow's "
            f"{ENV_MLFLOW_INFERENCE_TIMEOUT}, 120 s by default) and later models of the same "
            "kind in this process get its answer",
            TrackingWarning,
        )
    else:
        _logger.debug("%s; logged with the fallback (%s)", message, fallback)
    return InferenceTimeout(message)


def _make_capture(original: Callable[..., Any]) -> Callable[..., Any]:
    def _capture_imported_modules(model_uri: Any, flavor: str, *args: Any, **kwargs: Any) -> Any:
        if not _compat.autolog_session_active():  # not a model autolog logs: mlflow's own way
            return original(model_uri, flavor, *args, **kwargs)
        record_full_module = bool(kwargs.get("record_full_module", args[0] if args else False))
        extra = kwargs.get("extra_env_vars", args[1] if len(args) > 1 else None)
        kind = model_kind(model_uri, flavor, record_full_module, extra)
        if kind is None:
            return original(model_uri, flavor, *args, **kwargs)
        with _lock:
            answer = _cache.get(kind)
            if answer is not None:
                _counts["reused"] += 1
                _logger.debug("pip requirements of a %s model: captured modules reused", flavor)
                return list(answer)
            job = _jobs.get(kind)
            if job is None:
                job = _start(original, kind, str(local_dir(model_uri)), flavor, args, kwargs)
        limit = time_limit()
        if limit is None:
            job.done.wait()
            return job.outcome()
        session = _compat_requirements.autolog_root_session()
        fit = None
        if session is not None:
            with _lock, contextlib.suppress(TypeError):  # TypeError: not weak-referenceable
                fit = _fits.setdefault(session, _Fit(time.monotonic() + limit))
        deadline = fit.deadline if fit is not None else time.monotonic() + limit
        if job.done.wait(max(0.0, deadline - time.monotonic())):
            return job.outcome()
        raise _timed_out(kind, limit, fit)

    return _capture_imported_modules
