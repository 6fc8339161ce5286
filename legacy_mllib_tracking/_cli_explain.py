"""``legacy-mllib-tracking explain``: the routing decision for a runtime and Spark conf values,
without Spark."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from legacy_mllib_tracking._cli_base import UsageError
from legacy_mllib_tracking.keys import CONF_AUTOLOG, CONF_SPARK_VERSION, CONF_TRACK

__all__ = ["register"]

_CONF_KEYS = (CONF_TRACK, CONF_AUTOLOG, CONF_SPARK_VERSION)


class _DictConf:
    """A stand-in for ``spark.conf`` holding ``--conf KEY=VALUE`` pairs (no Spark needed)."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key, default)


class _ConfSession:
    """A stand-in for a SparkSession: only its ``conf``, which is all the router reads."""

    def __init__(self, values: dict[str, str]) -> None:
        self.conf = _DictConf(values)


def _parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--conf expects KEY=VALUE, got {pair!r}")
        key = key.strip()
        if key not in _CONF_KEYS:
            raise UsageError(
                f"--conf key {key!r} is not read by the router; accepted keys: "
                + ", ".join(_CONF_KEYS)
            )
        values[key] = value
    return values


def _ml_text(ml: bool | None) -> str:
    if ml is None:
        return "unknown (counts as ML)"
    return "yes" if ml else "no (a standard runtime)"


def _explain(args: argparse.Namespace) -> int:
    from legacy_mllib_tracking._inputs import route

    session = _ConfSession(_parse_conf(args.conf))
    decision = route(session, runtime_version=args.runtime, argument="--runtime")
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2, sort_keys=True))
        return 0
    where = decision.runtime or ("unknown Databricks" if decision.databricks else "not Databricks")
    source = f" (from {decision.runtime_source})" if decision.runtime_source else ""
    rows = [
        ("mode", decision.mode.value),
        ("runtime", f"{where}{source}"),
        ("ML runtime", _ml_text(decision.ml)),
        ("flags", str(decision.track)),
        ("", str(decision.autolog)),
        ("reason", decision.reason),
        *(("warning", message) for _, message in decision.warnings),
    ]
    for label, text in rows:
        print(f"{label + ':' if label else '':<12}{text}")
    return 0


def register(sub: Any) -> None:
    """Add ``explain`` to the subcommands ``sub``."""
    explain = sub.add_parser("explain", help="print the routing decision for an input, no Spark")
    explain.add_argument("--runtime", help="a runtime version, e.g. '10.4 LTS ML', '15.4'")
    explain.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark conf value the router reads (repeatable): " + ", ".join(_CONF_KEYS),
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(func=_explain)
