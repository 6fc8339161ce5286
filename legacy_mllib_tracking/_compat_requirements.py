"""mlflow's pip-requirement inference of the models autolog logs, and autolog's internals it needs.

Used by :mod:`legacy_mllib_tracking._requirements` in AUTOLOG mode. Each read of an mlflow
internal is version-guarded and falls back to mlflow's own behaviour when it moved.
"""

from __future__ import annotations

import inspect
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

from legacy_mllib_tracking._patching import PatchSet

__all__ = [
    "autolog_root_session",
    "install_requirements_capture",
    "spark_fallback_requirements",
    "warn_in_autolog",
]

_logger = logging.getLogger(__name__)


def install_requirements_capture(
    patches: PatchSet, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> bool:
    """Route mlflow's module capture of pip-requirement inference through ``make(original)``.

    ``mlflow.spark.log_model`` / ``save_model`` (mlflow 2.17 and 3.17) call
    ``mlflow.models.infer_pip_requirements(dst_dir, "spark", fallback=...)``, which calls
    ``mlflow.utils.requirements_utils._infer_requirements``, which calls the module-level
    ``_capture_imported_modules(model_uri, flavor, record_full_module=False, extra_env_vars=None)``
    by name: it runs ``mlflow/utils/_capture_modules.py`` in a new Python process that starts a
    Spark session, loads the saved model and records the top-level modules imported (the
    expensive step, 11 s on 2 idle cores); ``_infer_requirements`` then maps them to installed
    packages and pins their versions, which is cheap and stays mlflow's. Any exception out of the
    capture makes ``infer_pip_requirements`` log a warning and return its ``fallback`` (unless
    ``MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS`` is set).

    Returns:
        Whether the patch was installed; an mlflow without that function, or with another
        signature, keeps its plain behaviour (one DEBUG line says so).
    """
    try:
        from mlflow.utils import requirements_utils
    except ImportError:  # pragma: no cover - moved in a future mlflow
        _logger.debug("mlflow.utils.requirements_utils is gone: pip requirements inferred as usual")
        return False
    original = getattr(requirements_utils, "_capture_imported_modules", None)
    infer = getattr(requirements_utils, "_infer_requirements", None)
    try:
        names = list(inspect.signature(original).parameters) if callable(original) else []
    except (TypeError, ValueError):  # pragma: no cover
        names = []
    if not callable(infer) or names[:2] != ["model_uri", "flavor"]:
        _logger.debug(
            "mlflow.utils.requirements_utils._capture_imported_modules(model_uri, flavor, ...) is "
            "not there in mlflow %s: pip requirements of logged models inferred as usual",
            getattr(sys.modules.get("mlflow"), "__version__", "?"),
        )
        return False
    owner: Any = requirements_utils  # a module: PatchSet restores its attribute like a class's
    patches.patch(owner, "_capture_imported_modules", make)
    return True


def autolog_root_session() -> Any:
    """Return the outermost autologged pyspark.ml fit in progress (one object per fit), or ``None``.

    mlflow keeps a stack of ``_SparkTrainingSession`` objects, one per autologged ``fit`` in
    progress, in the class attribute ``_session_stack`` (mlflow 2.x and 3.17; process-wide).
    """
    try:
        from mlflow.pyspark.ml import _SparkTrainingSession
    except ImportError:  # pragma: no cover
        return None
    stack = getattr(_SparkTrainingSession, "_session_stack", None)
    return stack[0] if isinstance(stack, list) and stack else None


def warn_in_autolog(message: str, category: type[Warning]) -> None:
    """Emit a warning from code that autolog runs, as a warning (not an mlflow log line).

    While autolog's own code runs (``safe_patch``, mlflow 2.17 and 3.17), warnings from other
    packages raised in that thread are rerouted to mlflow's logger by
    ``logging_and_warnings._WARNINGS_CONTROLLER``. This lifts the rerouting for this thread while
    the warning is emitted (warnings autolog's ``silent=True`` disables stay disabled). Without
    that controller the warning is emitted as it is.
    """
    try:
        from mlflow.utils.autologging_utils.logging_and_warnings import _WARNINGS_CONTROLLER

        controller: Any = _WARNINGS_CONTROLLER
        rerouted = bool(controller.get_warnings_rerouting_state_for_current_thread())
        set_rerouted = controller.set_non_mlflow_warnings_rerouting_state_for_current_thread
    except Exception:  # moved in a future mlflow
        rerouted, set_rerouted = False, None
    set_rerouted = set_rerouted if callable(set_rerouted) else None
    if rerouted and set_rerouted is not None:
        set_rerouted(False)
    try:
        warnings.warn(message, category, stacklevel=1)
    finally:
        if rerouted and set_rerouted is not None:
            set_rerouted(True)


def spark_fallback_requirements() -> list[str]:
    """Return what ``mlflow.spark`` logs when inference fails (``get_default_pip_requirements``)."""
    try:
        import mlflow.spark

        return [str(r) for r in mlflow.spark.get_default_pip_requirements()]
    except Exception:  # pragma: no cover - a future mlflow
        return []
