"""Turn the measured series into the table (Markdown), the targets, the JSON and the PNG."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _common import Series, paired_ratios, ratio

# ISSUE 5's targets, as numbers.
LEGACY_CV = 1.02
LEGACY_TVS = 1.03
AUTOLOG_VS_PLAIN = 1.02
#: ISSUE 12: a repeated AUTOLOG fit with models costs (fit minus untracked) <= 25% of plain's.
REPEATED_MODEL_SHARE = 0.25
SQLITE_VS_FLOOR = 1.10
LINEAR_GROWTH = 1.25  # per-child cost at the largest grid <= 1.25x that at the next smaller one
SERVER_SPEEDUP = 3.0
IMPORT_SECONDS = 0.1
CONFIGURE_SECONDS = 0.050


def _s(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.2f}"


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}x"


def _ms(value: float) -> str:
    return f"{value * 1e3:.1f}"


# --- part 1 -------------------------------------------------------------------------------------


def fit_rows(part: Mapping[str, Any]) -> list[str]:
    series: dict[str, Series] = part["series"]
    rows = [
        "| tuner | variant | median s | min s | max s | tracking s (outside `_fit`) "
        "| x untracked | x plain autolog, same options |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tuner in ("cv", "tvs"):
        base = series.get(f"{tuner}/untracked")
        for variant in part["variants"]:
            s = series.get(f"{tuner}/{variant}")
            if s is None or not s.samples:
                continue
            vs_plain = None
            if variant.startswith("autolog-"):
                options = variant.split("-", 1)[1].replace("repeated", "defaults")
                plain = series.get(f"{tuner}/plain-{options}")
                vs_plain = ratio(s, plain) if plain and plain.samples else None
            vs_base = ratio(s, base) if base is not None and variant != "untracked" else None
            rows.append(
                f"| {tuner.upper()} | {variant} | {_s(s.median())} | {_s(min(s.values()))} | "
                f"{_s(max(s.values()))} | {s.median('outside'):.3f} | {_x(vs_base)} | "
                f"{_x(vs_plain)} |"
            )
    return rows


# --- part 2 -------------------------------------------------------------------------------------


def _child(series: Mapping[str, Series], backend: str, variant: str, size: int) -> Series | None:
    s = series.get(f"{backend}/{variant}/{size}")
    return s if s is not None and s.samples else None


def child_rows(part: Mapping[str, Any]) -> list[str]:
    series: dict[str, Series] = part["series"]
    rows = [
        "| store | maps | variant | median s | min s | max s | ms per child | CPU ms per child "
        "| x sequential floor |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend in ("sqlite", "server"):
        for size in part["sizes"]:
            base = _child(series, backend, "floor", size)
            for variant in ("library", "floor", "floor-concurrent"):
                s = _child(series, backend, variant, size)
                if s is None:
                    continue
                vs = ratio(s, base) if base is not None and variant != "floor" else None
                rows.append(
                    f"| {backend} | {size:,} | {variant} | {_s(s.median())} | "
                    f"{_s(min(s.values()))} | {_s(max(s.values()))} | "
                    f"{_ms(s.median() / size)} | {_ms(s.median('cpu') / size)} | {_x(vs)} |"
                )
    sweep: dict[str, Series] = part.get("sweep") or {}
    if sweep:
        rows += [
            "",
            "| server, 100 maps: library with | median s | ms per child "
            "| speed-up over sequential floor |",
            "| --- | ---: | ---: | ---: |",
        ]
        base = _child(series, "server", "floor", 100)
        for name, s in sweep.items():
            speedup = base.median() / s.median() if base is not None else None
            rows.append(
                f"| {name.rsplit('/', 1)[1].replace('=', ' ')} | {_s(s.median())} | "
                f"{_ms(s.median() / 100)} | {_x(speedup)} |"
            )
    return rows


# --- part 3 -------------------------------------------------------------------------------------


def startup_rows(part: Mapping[str, Any]) -> list[str]:
    rows = [
        "| what | median ms | min ms | max ms | samples |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    imp = part["import"]
    heavy = ", ".join(imp["heavy_modules"]) or "none"
    rows.append(
        f"| `import legacy_mllib_tracking` (heavy modules imported: {heavy}) | "
        f"{_ms(imp['median'])} | {_ms(imp['min'])} | {_ms(imp['max'])} | {imp['n']} |"
    )
    labels = {
        "legacy/used": 'first `configure(spark, mode="legacy")`',
        "route/used": "first `configure(spark)` (routed)",
        "route/fresh": "first `configure(spark)` (routed) on a session that ran no job yet",
    }
    for key, entry in part["configure"].items():
        first = entry["first"]
        rows.append(
            f"| {labels.get(key, key)} -> {entry['mode']} | {_ms(first['median'])} | "
            f"{_ms(first['min'])} | {_ms(first['max'])} | {first['n']} |"
        )
    for key, entry in part["configure"].items():
        if key.endswith("/used"):
            again = entry["again"]
            rows.append(
                f"| repeated `configure()` ({entry['mode']}), median of 20 per process | "
                f"{again['median'] * 1e3:.2f} | {again['min'] * 1e3:.2f} | "
                f"{again['max'] * 1e3:.2f} | {again['n']} |"
            )
    return rows


# --- targets ------------------------------------------------------------------------------------


def targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each of ISSUE 5's targets with the measured value and whether it is met."""
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        value: float | None,
        limit: float,
        *,
        at_least: bool = False,
        note: str = "",
        unit: str = "x",
    ) -> None:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        out.append(
            {
                "target": name,
                "measured": value,
                "unit": unit,
                "limit": limit,
                "met": met,
                "note": note,
            }
        )

    fits = results.get("fits")
    if fits:
        s: dict[str, Series] = fits["series"]
        for tuner, limit in (("cv", LEGACY_CV), ("tvs", LEGACY_TVS)):
            a, b = s.get(f"{tuner}/legacy"), s.get(f"{tuner}/untracked")
            if a and b and a.samples and b.samples:
                paired = sorted(paired_ratios(a, b))
                add(
                    f"LEGACY {tuner.upper()} fit <= {limit}x untracked",
                    ratio(a, b),
                    limit,
                    note=(
                        f"paired per-round ratios {', '.join(f'{r:.3f}' for r in paired)}; "
                        f"tracking outside _fit {a.median('outside'):.3f} s of "
                        f"{b.median():.2f} s = {1 + a.median('outside') / b.median():.3f}x"
                    ),
                )
        for tuner in ("cv", "tvs"):
            for options in ("defaults", "lean"):
                a, b = s.get(f"{tuner}/autolog-{options}"), s.get(f"{tuner}/plain-{options}")
                if a and b and a.samples and b.samples:
                    extra = a.median("outside") - b.median("outside")
                    add(
                        f"AUTOLOG {tuner.upper()} ({options}) <= {AUTOLOG_VS_PLAIN}x plain autolog",
                        ratio(a, b),
                        AUTOLOG_VS_PLAIN,
                        note=f"tracking outside _fit: {extra:+.3f} s vs plain autolog",
                    )
        for tuner in ("cv", "tvs"):
            a, b = s.get(f"{tuner}/autolog-repeated"), s.get(f"{tuner}/plain-defaults")
            base = s.get(f"{tuner}/untracked")
            if a and b and base and a.samples and b.samples and base.samples:
                ours, plain = a.median() - base.median(), b.median() - base.median()
                add(
                    f"AUTOLOG {tuner.upper()} repeated fit with models: tracking cost <= "
                    f"{REPEATED_MODEL_SHARE:.0%} of plain autolog's",
                    ours / plain if plain > 0 else None,
                    REPEATED_MODEL_SHARE,
                    note=(
                        f"fit minus untracked: {ours:.2f} s vs {plain:.2f} s; outside _fit: "
                        f"{a.median('outside'):.2f} s vs {b.median('outside'):.2f} s"
                    ),
                )
    children = results.get("children")
    if children:
        s = children["series"]
        sizes = children["sizes"]
        for size in sizes:
            a, b = _child(s, "sqlite", "library", size), _child(s, "sqlite", "floor", size)
            if a and b:
                add(
                    f"sqlite, {size:,} maps: library <= {SQLITE_VS_FLOOR}x floor per child",
                    ratio(a, b),
                    SQLITE_VS_FLOOR,
                    note=f"CPU time: {ratio(a, b, 'cpu'):.3f}x",
                )
        for backend in ("sqlite", "server"):
            big, small = sizes[-1], sizes[-2]
            a, b = _child(s, backend, "library", big), _child(s, backend, "library", small)
            if a and b:
                growth = (a.median() / big) / (b.median() / small)
                add(
                    f"{backend}: linear (per-child cost at {big:,} maps <= "
                    f"{LINEAR_GROWTH}x that at {small:,})",
                    growth,
                    LINEAR_GROWTH,
                )
        for size in sizes:
            if size < 100:
                continue
            base = _child(s, "server", "floor", size)
            threads = (children.get("library_threads") or {}).get("server", {}).get(str(size))
            notes = {
                "library": f"log_children with {threads or 'its own choice of'} threads, "
                "one store call per child end",
            }
            for variant, note in notes.items():
                a = _child(s, "server", variant, size)
                if a and base:
                    add(
                        f"server, {size:,} maps: {variant} >= {SERVER_SPEEDUP}x faster than the "
                        "sequential floor",
                        base.median() / a.median(),
                        SERVER_SPEEDUP,
                        at_least=True,
                        note=note,
                    )
        if children.get("server", {}).get("skipped"):
            add(
                "server targets",
                None,
                SERVER_SPEEDUP,
                note=f"not measured: {children['server']['skipped']}",
            )
    startup = results.get("startup")
    if startup:
        imp = startup["import"]
        heavy = [m for m in imp["heavy_modules"] if m in ("pyspark", "mlflow")]
        add(
            "import <= 0.1 s",
            imp["median"],
            IMPORT_SECONDS,
            unit="s",
            note=f"pyspark/mlflow imported: {', '.join(heavy) or 'no'}",
        )
        if heavy:
            out[-1]["met"] = False
        for key, entry in startup["configure"].items():
            if key.endswith("/used"):
                add(
                    f"first configure() -> {entry['mode']} <= 50 ms after imports",
                    entry["first"]["median"],
                    CONFIGURE_SECONDS,
                    unit="s",
                )
    return out


def target_rows(items: list[dict[str, Any]]) -> list[str]:
    rows = ["| target | measured | met | note |", "| --- | ---: | --- | --- |"]
    for item in items:
        value = item["measured"]
        if value is None:
            shown = "n/a"
        elif item["unit"] == "s":
            shown = f"{value * 1e3:.1f} ms"
        else:
            shown = f"{value:.3f}x"
        met = {True: "met", False: "**missed**", None: "not measured"}[item["met"]]
        rows.append(f"| {item['target']} | {shown} | {met} | {item['note']} |")
    return rows


# --- outputs ------------------------------------------------------------------------------------


def markdown(results: Mapping[str, Any]) -> str:
    m = results["machine"]
    modified = m["library_modified_files"]
    changes = f", uncommitted changes in {', '.join(modified)}" if modified else ""
    lines = [
        f"Measured {results['finished']} on {m['cpus']} CPUs, {m['memory_gib']} GiB, "
        f"{m['platform']}; Python {m['python']}, {m['java']}, pyspark {m['pyspark']}, "
        f"mlflow {m['mlflow']}, legacy-mllib-tracking {m['legacy_mllib_tracking']} "
        f"(git {m['git_commit']}{changes}); "
        f"mode {results['mode']}, load average {m['loadavg_start']} at start, "
        f"{results.get('loadavg_end')} at end; total {results['seconds']:.0f} s.",
        "",
    ]
    if results.get("note"):
        lines += [f"Note: {results['note']}.", ""]
    if "fits" in results:
        f = results["fits"]
        lines += [
            f"### Fit overhead ({f['workload']}; {f['reps']} reps after {f['warmup']} "
            "warm-up, interleaved)",
            "",
            *fit_rows(f),
            "",
        ]
        if f["problems"]:
            lines += ["Problems seen:", *[f"- {p}" for p in f["problems"]], ""]
    if "children" in results:
        c = results["children"]
        threads = c.get("library_threads") or {}
        used = "; ".join(
            f"{backend} " + ", ".join(f"{n} at {size}" for size, n in by_size.items())
            for backend, by_size in threads.items()
        )
        lines += [
            f"### Child-run logging ({c['reps']} reps, interleaved; floor-concurrent: "
            f"{c['workers']} threads; library threads by maps: {used or 'not recorded'})",
            "",
            *child_rows(c),
            "",
        ]
    if "startup" in results:
        lines += ["### Import and configure()", "", *startup_rows(results["startup"]), ""]
    lines += ["### Targets", "", *target_rows(results["targets"]), ""]
    return "\n".join(lines)


def to_json(value: Any) -> Any:
    if isinstance(value, Series):
        return {"group": value.group, **{k: value.summary(k) for k in _keys(value)}}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def _keys(series: Series) -> list[str]:
    keys: list[str] = []
    for sample in series.samples:
        keys += [k for k in sample if k not in keys]
    return keys


def part_from_json(part: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild a part of an earlier results.json (its series as :class:`Series`)."""
    out = dict(part)
    for key in ("series", "sweep"):
        rebuilt = {}
        for name, entry in (part.get(key) or {}).items():
            fields = {k: v["values"] for k, v in entry.items() if isinstance(v, dict)}
            count = min(len(v) for v in fields.values())
            samples = [{k: v[i] for k, v in fields.items()} for i in range(count)]
            rebuilt[name] = Series(name, entry.get("group", ""), samples)
        out[key] = rebuilt
    return out


def write_json(results: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(to_json(results), indent=2, sort_keys=False) + "\n")


def plot(results: Mapping[str, Any], path: Path) -> str | None:
    """Child logging time against grid size (log-log) and per child; ``None`` if drawn."""
    children = results.get("children")
    if not children:
        return "no child-logging results"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (it comes with mlflow; pip install matplotlib)"
    series: dict[str, Series] = children["series"]
    sizes = children["sizes"]
    styles = {
        ("sqlite", "library"): ("tab:blue", "-", "o"),
        ("sqlite", "floor"): ("tab:blue", "--", "s"),
        ("server", "library"): ("tab:red", "-", "o"),
        ("server", "floor"): ("tab:red", "--", "s"),
        ("server", "floor-concurrent"): ("tab:orange", "--", "v"),
    }
    fig, (total, per_child) = plt.subplots(1, 2, figsize=(12, 4.8))
    for (backend, variant), (color, dash, marker) in styles.items():
        points = [(n, s) for n in sizes if (s := _child(series, backend, variant, n)) is not None]
        if not points:
            continue
        xs = [n for n, _ in points]
        med = [s.median() for _, s in points]
        low = [m - min(s.values()) for m, (_, s) in zip(med, points, strict=True)]
        high = [max(s.values()) - m for m, (_, s) in zip(med, points, strict=True)]
        label = f"{backend}: {variant}"
        total.errorbar(
            xs,
            med,
            yerr=[low, high],
            color=color,
            linestyle=dash,
            marker=marker,
            capsize=3,
            label=label,
        )
        per_child.plot(
            xs,
            [m / n * 1e3 for m, n in zip(med, xs, strict=True)],
            color=color,
            linestyle=dash,
            marker=marker,
            label=label,
        )
    total.set(
        xscale="log",
        yscale="log",
        xlabel="param maps (child runs)",
        ylabel="seconds to log all children (median, min-max)",
        title="Child-run logging time",
    )
    per_child.set(
        xscale="log",
        xlabel="param maps (child runs)",
        ylabel="ms per child (median)",
        title="Per child",
    )
    per_child.set_ylim(bottom=0)
    for axis in (total, per_child):
        axis.grid(True, which="both", alpha=0.3)
    total.legend(fontsize=8)
    m = results["machine"]
    fig.suptitle(
        f"legacy-mllib-tracking child logging: {m['cpus']} CPUs, mlflow {m['mlflow']}, "
        f"{children['workers']} threads for floor-concurrent",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
