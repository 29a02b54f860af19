"""hwsim: number formats and accelerators as data; quantize, cost, and run real models.

    hwsim formats                         table of the catalog
    hwsim formats show mxfp4              every element value and the scale rule
    hwsim formats compare --data gaussian|laplace|student-t|minilm|x.npy --formats int4_g128,mxfp4,bitmod4
    hwsim quantize --format mxfp4 in.npy out.npy [--axis -1] [--rounding even] [--seed 0]
    hwsim tour [--distribution gaussian] [--out studies/format-tour]
    hwsim accelerators                    accelerator catalog
    hwsim gemm --accelerator tpu-v1-like -m 128 -k 768 -n 3072 [--csv out.csv]
    hwsim workload bert-base|smollm2|minilm --accelerator mx-systolic-32 [--seq 128] [--batch 1] [--csv out.csv]
    hwsim run --model smollm2 --weights mxfp4 --activations mxfp8_e4m3 --accelerator mx-systolic-32 [--json run.json]
    hwsim run --model minilm --compare fp16,mxfp8_e4m3,mxfp4 [--accelerator a,b] [--plot out.png]
    hwsim cost run.json --accelerator tpu-v1-like,bitmod-like   re-price a saved run, no model run
    hwsim rtl synth [--block fp_mul] [--out costs.csv] [--force]   area/timing/energy of rtl/blocks.toml
    hwsim rtl test [--block fp_mul] [--sim icarus|verilator] [--all]  the cocotb benches (pytest)
    hwsim reproduce bitmod [--version paper|head] [--mode official|physical|hwsim] [--json out.json]
    hwsim sweep studies/llm-pareto [--executor local|serial|dask] [--workers N] [--scheduler tcp://h:8786]
    hwsim results studies/llm-pareto [--csv out.csv]   hwsim plot STUDY   hwsim report STUDY
    hwsim train --model tiny-lm|digits-cnn|digits-mlp --recipe mxfp8 | --compare fp32,mxfp8,dfp16 [--out DIR]
"""

# This module is the only one that prints or exits; the library raises HwsimError subclasses.

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwsim.errors import HwsimError
from hwsim.files import atomic_path, atomic_write, check_writable, write_text

if TYPE_CHECKING:  # the CLI imports the library lazily, per command
    from hwsim.numerics.format import Format
    from hwsim.numerics.protocol import NumberFormat, OperandSpec, ScaleSpec

__all__ = ["main"]


def _print_table(df, title: str = "", wide: str | None = None) -> None:
    """``df`` as a rich table (cells are plain text, never rich markup: ``[lo, hi]`` stays). The
    console is as wide as the columns need, so no name or header is cut (``mxfp4_ue…``); only the
    ``wide`` column (long text) wraps, within 40 characters."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, show_lines=False)
    need = 0
    for col in df.columns:
        width = max([len(str(col)), *(len(_fmt_cell(v)) for v in df[col])])
        if col == wide:
            width = min(width, 40)
            table.add_column(str(col), justify="left", min_width=width)
        else:
            table.add_column(str(col), justify="right" if df[col].dtype.kind in "iuf" else "left",
                             no_wrap=True, min_width=width)
        need += width + 3
    for _, row in df.iterrows():
        table.add_row(*[Text(_fmt_cell(v)) for v in row])
    Console(width=max(120, need + 1)).print(table)


def _fmt_cell(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.4g}"
        return f"{v:.4g}" if not float(v).is_integer() else f"{int(v)}"
    return str(v)


# --- formats ------------------------------------------------------------------------------------
def _cmd_formats(args: argparse.Namespace) -> int:
    import hwsim
    from hwsim.catalog import all_formats
    from hwsim.numerics.format import Format

    if args.action == "compare":
        return _cmd_formats_compare(args)
    # args.action is None or "list": the catalog table
    if args.action == "show":
        if not args.name:
            raise HwsimError("hwsim formats show needs a format name, e.g. `hwsim formats show mxfp4`")
        fmt = hwsim.format(args.name)
        if isinstance(fmt, Format):
            _show_core(fmt, args)
        else:
            _show_family(fmt, args)
        return 0
    import pandas as pd

    _print_table(pd.DataFrame(_format_rows(all_formats())), "hwsim format catalog", wide="scale")
    return 0


def _format_rows(fmts: Iterable[NumberFormat]) -> list[dict[str, Any]]:
    """One row of ``hwsim formats`` per format: bits, block, element, scale rule, range."""
    rows = []
    for fmt in fmts:
        vals = np.abs(np.asarray(fmt.values(), dtype=np.float64))
        tiny = float(vals[vals > 0].min()) if np.any(vals > 0) else getattr(fmt, "smallest_subnormal", math.nan)
        rows.append({"name": fmt.name, "bits/elem": round(fmt.bits_per_element, 4),
                     "block": fmt.block_size if fmt.block_size else ("axis" if fmt.block_size == 0 else "-"),
                     "element": _element_text(fmt), "scale": _scale_text(fmt.operand), "max": fmt.max,
                     "smallest": tiny, "range (binades)": round(math.log2(fmt.max / tiny), 1)})
    return rows


def _element_text(fmt: NumberFormat) -> str:
    from hwsim.numerics.format import Format

    if isinstance(fmt, Format):
        return fmt.element.describe()
    describe = getattr(fmt, "describe", None)
    return str(describe()) if callable(describe) else type(fmt).__name__


def _per(scale: ScaleSpec) -> str:
    """Where one scale applies: ``block 32``, ``group 128``, ``channel``, ``tensor``."""
    return f"{scale.granularity} {scale.group_size}" if scale.group_size else scale.granularity


def _scale_code(scale: ScaleSpec) -> str:
    """The stored scale code: ``E8M0``, ``E4M3``, ``E8M23`` (fp32), ``INT8``."""
    return f"E{scale.exp_bits}M{scale.man_bits}" if scale.exp_bits else f"INT{scale.bits}"


def _scale_text(operand: OperandSpec) -> str:
    """Every scale of ``operand`` (innermost first): its rule and where it applies; ``-`` for none."""
    return "; ".join(f"{s.rule} per {_per(s)}" for s in operand.scales) or "-"


def _print_scales(operand: OperandSpec) -> None:
    """The ``scale:`` lines of ``hwsim formats show``: one per scale, innermost first."""
    if not operand.scales:
        print("  scale: none")
    for s in operand.scales:
        print(f"  scale per {_per(s)} along the encode axis ({s.bits}-bit {_scale_code(s)}): {s.rule}")


def _print_header(fmt: NumberFormat, element: str) -> None:
    """Name, element, storage bits, source and scales: the first lines of every `formats show`."""
    print(f"{fmt.name}: {element}, {fmt.bits_per_element:g} bits/element")
    print(f"  reference: {fmt.reference}")
    if fmt.description:
        print(f"  {fmt.description}")
    _print_scales(fmt.operand)


def _show_core(fmt: Format, args: argparse.Namespace) -> None:
    _print_header(fmt, fmt.element.describe())
    if fmt.scale_rule is not None or fmt.tensor_scale:
        if fmt.scale_rule is not None and fmt.scale_rule.value == "pow2":
            print(f"    X = 2^(floor(log2 amax) - {fmt.emax}) stored as E8M0 (bias 127, 0xFF = NaN); "
                  "elements = round(x / X), saturating (OCP MX v1.0 §6.3)")
        else:
            print(f"    s = RNE(amax / {fmt.max:g}) in the scale format; elements = round(x / s), saturating")
    print(f"  rounding: {fmt.operand.rounding}, saturate: {fmt.saturate}")
    vals = fmt.values()
    if not len(vals):  # fp32: 2**32 codes, too many to enumerate (values() lists none)
        print(f"  2^{fmt.element.bits} codes: too many element values to list; finite values span "
              f"[-{fmt.max:g}, {fmt.max:g}], smallest normal {fmt.smallest_normal:g}, "
              f"smallest subnormal {fmt.smallest_subnormal:g}")
        return
    print(f"  {len(vals)} distinct finite element values (max {fmt.max:g}, smallest subnormal "
          f"{fmt.smallest_subnormal:g}):")
    _print_values(vals, args)


def _show_family(fmt: NumberFormat, args: argparse.Namespace) -> None:
    _print_header(fmt, _element_text(fmt))
    print(f"  rounding: {fmt.operand.rounding}")
    for cb in getattr(fmt, "types", ()):
        print(f"  type {cb.name} ({cb.bits}-bit, ties {cb.ties}): code -> value")
        print("    " + "  ".join(f"{c:0{cb.bits}b}:{'-' if math.isnan(v) else f'{v:g}'}"
                                 for c, v in enumerate(cb.table)))
    vals = np.asarray(fmt.values())
    print(f"  {len(vals)} distinct element values before scaling:")
    _print_values(vals, args)


def _print_values(vals, args: argparse.Namespace) -> None:
    limit = None if args.all or len(vals) <= 512 else 512
    shown = vals if limit is None else np.concatenate([vals[:limit // 2], vals[-limit // 2:]])
    print("  " + " ".join(f"{v:g}" for v in shown))
    if limit is not None:
        print(f"  ... ({len(vals) - limit} values omitted; --all prints every one)")


def _cmd_formats_compare(args: argparse.Namespace) -> int:
    import hwsim
    from hwsim.study.compare import compare_formats, load_data

    names = [n.strip() for n in (args.formats or "").split(",") if n.strip()]
    if not names:
        raise HwsimError("hwsim formats compare needs --formats, e.g. --formats int4_g128,mxfp4,nvfp4,bitmod4")
    fmts = [hwsim.format(n) for n in names]
    _check_outputs([("--csv", args.csv)])
    if Path(args.data).suffix in (".npy", ".npz"):
        x = _load_array(args.data)
        if x.dtype.kind != "f":
            raise HwsimError(f"--data {args.data}: dtype {x.dtype} is not a float type")
        tensors = [(Path(args.data).name, x.astype(np.float32))]
    else:
        tensors = load_data(args.data, shape=(args.rows, args.cols), seed=args.seed)
    _warm_up(fmts, tensors)
    table = compare_formats(fmts, tensors)
    n_el = sum(t.size for _, t in tensors)
    what = (f"{len(tensors)} tensors, {n_el:,} values" if len(tensors) > 1 else f"{tensors[0][1].shape}")
    _print_table(table, f"formats on {args.data} data ({what}); quantized along the last axis")
    if args.csv:
        _write_all([lambda: _write_csv(table, args.csv, f"wrote {args.csv}")])
    return 0


def _warm_up(fmts: Sequence[Any], tensors: Sequence[tuple[str, np.ndarray]]) -> None:
    """Encode one row of each kind of tensor (dtype, rank) with every format before the timed
    runs, so ``encode_s`` measures encoding, not the one-off numba compilation of a kernel."""
    kinds: dict[tuple[str, int], np.ndarray] = {}
    for _, t in tensors:
        kinds.setdefault((t.dtype.str, t.ndim), t)
    for fmt in fmts:
        for t in kinds.values():
            if t.size:
                fmt.encode(t[(slice(0, 1),) * (t.ndim - 1)] if t.ndim > 1 else t, axis=-1)


def _load_array(path: str) -> np.ndarray:
    """The one array of a ``.npy`` file, or a one-line error naming the file and what is wrong
    (missing, empty, not a .npy file, an .npz archive, pickled objects)."""
    try:
        x = np.load(path, allow_pickle=False)
    except EOFError:
        raise HwsimError(f"cannot read {path}: the file is empty (expected a .npy array)") from None
    except (OSError, ValueError) as exc:
        raise HwsimError(f"cannot read {path}: {exc}") from None
    if not isinstance(x, np.ndarray):  # an NpzFile: np.load opens archives by content, not by name
        names = list(getattr(x, "files", []))
        close = getattr(x, "close", None)
        if callable(close):
            close()
        raise HwsimError(f"cannot read {path}: it is an .npz archive (arrays {', '.join(names) or 'none'}), "
                         f"not a .npy array; save one array with np.save")
    return x


def _cmd_quantize(args: argparse.Namespace) -> int:
    import hwsim

    overrides = {}
    if args.rounding:
        overrides["rounding"] = args.rounding
    if args.seed is not None:
        overrides["seed"] = args.seed
    fmt = hwsim.format(args.format, **overrides)
    x = _load_array(args.input)
    _check_outputs([("output", args.output)])
    if args.codes:
        enc = fmt.encode(x, axis=args.axis)
        arrays = {"codes": enc.codes}
        if enc.scales is not None:
            arrays["scales"] = enc.scales
        if enc.tensor_scale is not None:
            arrays["tensor_scale"] = np.asarray(enc.tensor_scale)
        for key, value in (enc.meta or {}).items():  # what decode needs besides codes and scales
            if isinstance(value, np.ndarray | np.generic):  # (selectors, zero points, biases, pairs)
                arrays[f"meta_{key}"] = np.asarray(value)
        with atomic_write(args.output) as fh:  # a file object: numpy adds no .npz to the name
            np.savez(fh, **arrays)
        print(f"wrote codes{' and scales' if enc.scales is not None else ''} of {x.shape} "
              f"({fmt.name}) to {args.output}")
        return 0
    y = fmt.quantize(x, axis=args.axis)
    with atomic_write(args.output) as fh:  # a file object: numpy adds no .npy to the name
        np.save(fh, y)
    from hwsim.study.tour import qsnr_db

    print(f"{fmt.name}: quantized {x.shape} along axis {args.axis}; QSNR {qsnr_db(x, y):.2f} dB; "
          f"wrote {args.output}")
    return 0


def _cmd_tour(args: argparse.Namespace) -> int:
    from hwsim.study.tour import format_tour, plot_tour

    out = Path(args.out)
    csv = out / f"qsnr_{args.distribution}.csv"
    png = out / f"qsnr_vs_bits_{args.distribution}.png"
    _check_outputs([("--out", csv), ("--out", png)])
    table = format_tour(distribution=args.distribution, shape=(args.rows, args.cols), seed=args.seed)
    qcol = table.columns[-1]
    table = table.sort_values(["bits_per_element", qcol], ascending=[True, False])
    _print_table(table.drop(columns=["element"]),
                 f"QSNR of every core-family format on {args.distribution} data ({args.rows}x{args.cols})")
    _write_all([lambda: _write_csv(table, csv, f"table: {csv}"),
                lambda: _write_plot(lambda p: plot_tour(table, p, f"hwsim formats on {args.distribution} data: "
                                                                   "QSNR vs storage"), png, f"plot:  {png}")])
    return 0


# --- accelerators -------------------------------------------------------------------------------
def _cmd_accelerators(args: argparse.Namespace) -> int:
    import pandas as pd

    from hwsim.arch import accelerator, accelerators

    rows = []
    for name in accelerators():
        acc = accelerator(name)
        rows.append({"name": name, "description": getattr(acc, "description", "")})
    _print_table(pd.DataFrame(rows), "hwsim accelerator catalog")
    return 0


# --- output files: checked before any work, written atomically, every failure reported ---------
def _check_outputs(outputs: Sequence[tuple[str, str | Path | None]]) -> None:
    """Refuse, before computing anything, output paths that cannot become files (a folder,
    ``/proc/...``, a read-only place) and two outputs on one path; ``(flag, path)`` pairs, None
    for an output not asked for."""
    seen: dict[Path, str] = {}
    for flag, path in outputs:
        if path is None or path == "":
            continue
        where = Path(path).absolute()
        if where in seen and seen[where] != flag:
            raise HwsimError(f"{flag} {path}: the same file as {seen[where]}; give each output its own path")
        seen[where] = flag
        check_writable(path, what=f"{flag}" if flag.startswith("-") else flag)


def _write_all(jobs: Sequence[Callable[[], str]]) -> None:
    """Run every write job (each returns the line to print) even when an earlier one failed, so a
    bad ``--json`` never silently skips ``--csv``; then raise one error naming every failure."""
    failed = []
    for job in jobs:
        try:
            print(job())
        except OSError as exc:  # OutputError (hwsim.files) and anything else the OS refused
            failed.append(str(exc))
    if failed:
        raise HwsimError("; ".join(failed) + " (the other outputs were written)" * (len(failed) < len(jobs)))


def _write_csv(df: Any, path: str | Path, message: str) -> str:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        df.to_csv(fh, index=False)
    return message


def _write_plot(plot: Callable[[Path], Any], path: str | Path, message: str) -> str:
    """``plot(tmp_path)`` draws to a temporary file that becomes ``path`` once complete."""
    with atomic_path(path) as tmp:
        plot(tmp)
    return message


def _write_or_print(df, csv: str | None, title: str) -> None:
    if csv:
        _write_all([lambda: _write_csv(df, csv, f"wrote {len(df)} row(s) to {csv}")])
    _print_table(df, title)


def _cmd_gemm(args: argparse.Namespace) -> int:
    from hwsim.arch.report import gemm_table

    _check_outputs([("--csv", args.csv)])
    df = gemm_table(args.accelerator, args.m, args.k, args.n, args.a_format, args.w_format)
    _write_or_print(df.T.reset_index().rename(columns={"index": "field", 0: "value"}) if not args.csv else df,
                    args.csv, f"GEMM {args.m}x{args.k}x{args.n} on {args.accelerator}")
    return 0


#: workload-table columns renamed so the unit is in the name (per call vs x count)
_PER_CALL = ("cycles", "compute_cycles", "stall_cycles", "time_us", "macs", "sram_reads_ifmap",
             "sram_reads_filter", "sram_writes_ofmap", "dram_read_bytes", "dram_write_bytes", "energy_mac_pj",
             "energy_rf_pj", "energy_sram_pj", "energy_dram_pj", "energy_pj")


def _unit_names(df: Any) -> Any:
    """``cycles`` -> ``cycles_per_call``, ``total_cycles`` -> ``cycles_total`` (and energy)."""
    ren = {c: f"{c}_per_call" for c in _PER_CALL if c in df}
    ren.update({"total_cycles": "cycles_total", "total_energy_pj": "energy_pj_total"})
    return df.rename(columns=ren)


def _cmd_workload(args: argparse.Namespace) -> int:
    from hwsim.arch.config import accelerator, operand_format
    from hwsim.arch.workload import workloads

    _check_outputs([("--csv", args.csv)])
    params = {k: v for k, v in (("seq", args.seq), ("batch", args.batch)) if v is not None}
    if args.name in workloads():
        wl: Any = args.name
    else:
        from hwsim.study.model_workload import model_workload

        wl = model_workload(args.name, **params)
        params = {}
    acc = accelerator(args.accelerator)
    df = acc.run(wl, operand_format(args.a_format), operand_format(args.w_format), **params)
    df.insert(0, "accelerator", acc.name)
    df = _unit_names(df)
    if args.csv:
        _write_all([lambda: _write_csv(df, args.csv, f"wrote {len(df)} row(s), every cost field, to {args.csv}")])
    total_cycles = _column_total(df, "cycles_total")
    total_energy = _column_total(df, "energy_pj_total")
    print(f"{args.name} on {acc.name}: {len(df)} GEMM row(s), total {total_cycles:.4g} cycles, "
          f"{total_energy / 1e6:.4g} uJ")
    compact = [c for c in ("layer", "kind", "m", "k", "n", "count", "cycles_per_call", "stall_cycles_per_call",
                           "utilization", "energy_pj_per_call", "cycles_total", "energy_pj_total") if c in df]
    _print_table(df[compact], f"{args.name} on {args.accelerator} (*_per_call: one GEMM; *_total: x count)")
    return 0


def _cmd_cost(args: argparse.Namespace) -> int:
    import time

    from hwsim.arch.config import accelerator
    from hwsim.study.reprice import compare_table, load_runs, plot_compare, reprice_all

    _check_outputs([("--csv", args.csv), ("--json", args.json), ("--plot", args.plot)])
    names = [a.strip() for a in args.accelerator.split(",") if a.strip()]
    if not names:
        raise HwsimError("hwsim cost needs --accelerator NAME[,NAME...]")
    accs = [accelerator(n) for n in names]
    runs = load_runs(args.run_json)
    t0 = time.perf_counter()
    reports = reprice_all(runs, accs)
    seconds = time.perf_counter() - t0
    table = compare_table(reports)
    metric = reports[0].metric_name or "metric"
    print(f"re-priced {len(runs)} run(s) of {reports[0].model} on {len(accs)} accelerator(s) in {seconds:.3g} s "
          f"(no model run)")
    _print_table(table, f"{reports[0].model}: {metric} vs cost, re-priced from {args.run_json}")
    jobs: list[Callable[[], str]] = []
    if args.csv:
        jobs.append(lambda: _write_csv(table, args.csv, f"wrote {len(table)} row(s) to {args.csv}"))
    if args.json:
        jobs.append(lambda: f"wrote {len(reports)} report(s) to "
                            f"{write_text(args.json, _json([r.as_dict() for r in reports]))}")
    if args.plot:
        jobs.append(lambda: _write_plot(lambda p: plot_compare(
            table, p, metric_name=metric, title=f"{reports[0].model}: {metric} vs energy"), args.plot,
            f"plot: {args.plot}"))
    _write_all(jobs)
    return 0


def _column_total(df: Any, column: str) -> float:
    """Sum of a DataFrame column (NaN when the table has no such column)."""
    return float(df[column].sum()) if column in df else float("nan")


# --- run: real models on the simulated datapath (hwsim.bridge) ----------------------------------
def _progress(label: str):
    """A rich progress bar and a ``(done, total)`` callback for the bridge's evaluation loops."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), transient=True)
    tasks: dict[str, TaskID] = {}

    def cb(*args):
        name, done, total = args if len(args) == 3 else (label, *args)
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)
    return bar, cb


def _cmd_run(args: argparse.Namespace) -> int:
    import torch

    from hwsim.bridge import models
    from hwsim.bridge.evaluate import compare, run

    spec = models.get(args.model)
    formats = _check_run_args(args, spec)  # every name and path, before the first evaluation
    if args.threads:
        torch.set_num_threads(args.threads)
    kw = dict(size=args.size, skip=args.skip, default_skip=not args.no_default_skip,
              kv_cache=args.kv_cache or "activations", accumulate=args.accumulate,
              attention=not args.no_attention, v_cache=args.v_cache or "kv_cache", ksort=args.ksort,
              gemm=args.gemm, lut_table=None if args.lut_table == "full" else args.lut_table)
    accs = [a.strip() for a in args.accelerator.split(",") if a.strip()]
    if formats:
        from hwsim.arch.config import accelerator
        from hwsim.study.reprice import compare_table, plot_compare, reprice_all

        others = [accelerator(a) for a in accs[1:]]  # names were checked by _check_run_args
        bar, cb = _progress(args.model)
        with bar:
            _, reports = compare(args.model, formats, activations=args.activations or "same",
                                 accelerator=accs[0], progress=cb, **kw)
        if others:
            reports = reports + reprice_all([r.as_dict() for r in reports], others)
        table = compare_table(reports)
        where = ", ".join(accs)
        _print_table(table, f"{args.model} on {where}: {spec.metric_name} vs cost "
                            f"({spec.sizes.get(args.size, args.size)}; *_total: the whole evaluation)")
        for note in reports[0].notes:
            print(f"note: {note}")
        plot = _compare_plot_path(args)
        jobs = [lambda: _write_plot(lambda p: plot_compare(
            table, p, metric_name=spec.metric_name, higher_is_better=spec.higher_is_better,
            title=f"{args.model} on {where}: {spec.metric_name} vs energy"), plot, f"plot: {plot}")]
        if args.csv:
            jobs.append(lambda: _write_csv(table, args.csv, f"wrote {len(table)} row(s) to {args.csv}"))
        if args.json:
            jobs.append(lambda: f"wrote {len(reports)} report(s) to "
                                f"{write_text(args.json, _json([r.as_dict() for r in reports]))}")
        _write_all(jobs)
        return 0
    if len(accs) != 1:
        raise HwsimError("a single run takes one --accelerator; re-price it on others with `hwsim cost` "
                         "or compare with --compare")
    bar, cb = _progress(args.model)
    with bar:
        rep = run(args.model, args.weights, args.activations or "mxfp8_e4m3", accs[0],
                  progress=lambda d, t: cb("simulated", d, t),
                  baseline_progress=lambda d, t: cb("fp32 baseline", d, t), **kw)
    _print_run_summary(rep)
    if not args.quiet:
        _print_table(rep.by_layer(), f"{args.model}: per-layer cost on {rep.accelerator} "
                                     f"(*_total: the whole evaluation)")
    jobs = []
    if args.json:
        jobs.append(lambda: f"wrote {write_text(args.json, _json(rep.as_dict()))}")
    if args.csv:
        jobs.append(lambda: _write_csv(rep.layers, args.csv, f"wrote {len(rep.layers)} GEMM row(s) to {args.csv}"))
    _write_all(jobs)
    return 0


# --- train (issue 14) ---------------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace) -> int:
    from hwsim.train import report
    from hwsim.train.loop import compare
    from hwsim.train.recipe import recipe

    names = [n.strip() for n in (args.compare or args.recipe).split(",") if n.strip()]
    for n in names:
        recipe(n)  # every name checked before the first step
    out = Path(args.out) if args.out else None
    files = {k: out / f"{args.model}_{k}" for k in ("curves.csv", "summary.csv", "step_cost.csv", "loss.png")} \
        if out else {}
    _check_outputs([(f"--out {k}", str(v)) for k, v in files.items()])
    steps = args.steps or {"tiny-lm": 300, "smollm2": 20}.get(args.model, 100)
    bar, cb = _progress(args.model)
    with bar:
        results = compare(args.model, names, steps=steps, seed=args.seed, n_threads=args.threads,
                          accumulate=args.accumulate, batch_size=args.batch_size,
                          eval_every=args.eval_every if args.eval_every is not None else max(1, steps // 10),
                          progress=lambda r, s, n, v: cb(r, s, n))
    table = report.summary(results, args.accelerator)
    _print_table(table, f"{args.model}: {steps} steps per recipe, seed {args.seed}; step cost on {args.accelerator}")
    if files:
        jobs = [lambda: _write_csv(report.curves(results), files["curves.csv"], f"curves: {files['curves.csv']}"),
                lambda: _write_csv(table, files["summary.csv"], f"summary: {files['summary.csv']}"),
                lambda: _write_csv(report.step_costs(results, args.accelerator), files["step_cost.csv"],
                                   f"step cost per GEMM: {files['step_cost.csv']}"),
                lambda: _write_plot(lambda p: report.plot_curves(
                    report.curves(results), p, f"{args.model}: loss per recipe ({steps} steps)"),
                    files["loss.png"], f"plot: {files['loss.png']}")]
        _write_all(jobs)
    return 0


# --- rtl (issue 12) ------------------------------------------------------------------------------
def _cmd_rtl(args: argparse.Namespace) -> int:
    from hwsim.synth.registry import load_blocks

    blocks = load_blocks()
    if args.block and args.block not in blocks:
        raise HwsimError(f"unknown RTL block {args.block!r}; registered in rtl/blocks.toml: {sorted(blocks)}")
    if args.action == "test":
        import subprocess

        files = sorted({blocks[b].test for b in ([args.block] if args.block else blocks)})
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", *files]
        cmd += ["-m", "slow or not slow"] if args.all else []
        cmd += ["-k", args.sim] if args.sim else []
        print("running:", " ".join(cmd))
        return subprocess.call(cmd, cwd=Path(__file__).resolve().parent.parent)
    from hwsim.synth.costs import COSTS_CSV
    from hwsim.synth.flow import missing_synth_tools, run_flow
    from hwsim.synth.report import cost_table

    missing = missing_synth_tools()
    if missing:
        raise HwsimError(f"hwsim rtl synth needs yosys, OpenSTA and the OSU liberty: {missing}")
    rows, fresh = run_flow([args.block] if args.block else None, csv_path=args.out, force=args.force)
    shown = [r for r in rows if not args.block or r.block == args.block]
    _print_table(cost_table(shown), "RTL blocks: OSU 0.18 um (yosys + OpenSTA), scaled by "
                                    "hwsim.synth.costs.scale_from_180nm")
    print(f"wrote {len(rows)} row(s) ({len(fresh)} synthesized, {len(rows) - len(fresh)} cached) to "
          f"{args.out or COSTS_CSV}")
    return 0


def _add_rtl_parser(sub: Any) -> None:
    r = sub.add_parser("rtl", help="RTL blocks: `synth` (area/timing/energy table) or `test` (cocotb benches)")
    r.add_argument("action", choices=["synth", "test"])
    r.add_argument("--block", help="one block of rtl/blocks.toml (default: all)")
    r.add_argument("--out", help="synth: CSV to (re)write (default: hwsim/synth/data/rtl_costs.csv)")
    r.add_argument("--force", action="store_true", help="synth: resynthesize rows whose cache key is unchanged")
    r.add_argument("--sim", choices=["icarus", "verilator"], help="test: one simulator (default: both)")
    r.add_argument("--all", action="store_true", help="test: include the slow cases")
    r.set_defaults(func=_cmd_rtl)


def _print_run_summary(rep: Any) -> None:
    """The headline of a run: settings, metric vs baseline, latency, energy (split into quantized
    GEMMs and GEMMs kept fp32, per token where the model counts tokens), area."""
    delta = rep.metric_delta
    print(f"{rep.model}: weights {rep.weights}, activations {rep.activations}, kv {rep.kv_cache}, "
          f"accumulate {rep.accumulate}, on {rep.accelerator}")
    print(f"  {rep.metric_name}: {rep.metric:.4f}  (fp32 baseline {rep.baseline_metric:.4f}"
          + (f", {100 * delta:+.1f} %)" if delta is not None else ")"))
    others = {k: v for k, v in rep.metrics.items() if k != rep.metric_name}
    if others:
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in others.items()))
    e = rep.energy_breakdown_pj
    split = rep.energy_split_pj
    print(f"  latency {rep.latency_s * 1e3:.4g} ms ({rep.cycles} cycles at {rep.clock_mhz:g} MHz), "
          f"energy {rep.energy_pj / 1e6:.4g} uJ total (mac {e['mac'] / 1e6:.3g}, rf {e['rf'] / 1e6:.3g}, "
          f"sram {e['sram'] / 1e6:.3g}, dram {e['dram'] / 1e6:.3g}), area {rep.area_um2 / 1e6:.4g} mm2, "
          f"utilization {rep.utilization:.3f}, DRAM {rep.bytes_moved / 1e6:.4g} MB")
    line = (f"  energy of quantized GEMMs {split['quantized'] / 1e6:.4g} uJ, of GEMMs kept fp32 "
            f"{split['fp32'] / 1e6:.4g} uJ")
    if rep.tokens:
        line += (f"; per token {rep.per_token(rep.energy_pj) / 1e6:.4g} uJ "
                 f"(quantized {rep.per_token(split['quantized']) / 1e6:.4g}, fp32 "
                 f"{rep.per_token(split['fp32']) / 1e6:.4g}) over {rep.tokens:g} tokens")
    print(line)
    for u in rep.unsupported:
        print(f"  unsupported, ran in fp32: {u['name']} ({u['op']}): {u['reason']}")
    for note in rep.notes:
        print(f"  note: {note}")


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2)


def _compare_plot_path(args: argparse.Namespace) -> Path:
    return Path(args.plot or f"studies/bridge/{args.model}_compare.png")


#: what `run` accepts besides catalog format names, per option (hwsim.bridge.datapath's rules)
_RUN_FORMAT_OPTIONS = (("--weights", "weights", ("fp32", "none")),
                       ("--activations", "activations", ("fp32", "none", "same")),
                       ("--kv-cache", "kv_cache", ("fp32", "none", "activations")),
                       ("--v-cache", "v_cache", ("fp32", "none", "kv_cache")),
                       ("--accumulate", "accumulate", ("fp32", "none", "block_dot")))


def _check_run_args(args: argparse.Namespace, spec: Any) -> list[str]:
    """Every name `hwsim run` was given (formats, GEMM schemes, accelerator, evaluation size) and
    every output path, checked before the first (minutes-long) evaluation; all problems reported
    in one error. Returns the ``--compare`` format list (empty without --compare).

    Raises:
        HwsimError: naming each bad option, its value and what is allowed.
    """
    import hwsim
    from hwsim.bridge.datapath import SCHEMES

    problems: list[str] = []

    def check_format(flag: str, name: str, also: Sequence[str], schemes: bool) -> None:
        if name.lower() in also or (schemes and name in SCHEMES):
            return
        try:
            hwsim.format(name)
        except HwsimError as exc:
            problems.append(f"{flag} {name}: {exc}")

    compared: list[str] = []
    if args.compare is not None:
        compared = [f.strip() for f in args.compare.split(",") if f.strip()]
        if not compared:
            problems.append(f"--compare {args.compare!r}: no format name in it; give a comma-separated list, "
                            f"e.g. --compare fp16,mxfp8_e4m3,mxfp4")
        for name in compared:
            check_format("--compare", name, ("fp32", "none"), True)
    for flag, attr, also in _RUN_FORMAT_OPTIONS:
        value = getattr(args, attr)
        if value is not None and not (compared and attr == "weights"):  # --compare replaces --weights
            check_format(flag, value, also if compared else tuple(a for a in also if a != "same"), attr == "weights")
    for name in [a.strip() for a in args.accelerator.split(",") if a.strip()] or [args.accelerator]:
        try:  # (a comma-separated list where `run` re-prices on several accelerators)
            hwsim.accelerator(name)
        except HwsimError as exc:
            problems.append(f"--accelerator {name}: {exc}")
    if spec.sizes and args.size not in spec.sizes:
        problems.append(f"--size {args.size}: not an evaluation size of {spec.name}; "
                        f"known: {', '.join(spec.sizes)}")
    if problems:
        raise HwsimError("\n  ".join(problems) if len(problems) == 1 else
                         f"{len(problems)} problems:\n  " + "\n  ".join(problems))
    _check_outputs([("--json", args.json), ("--csv", args.csv),
                    ("--plot", _compare_plot_path(args) if compared else None)])
    return compared


# --- parser -------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``hwsim run: error: argument --threads: ...`` and exit 2
    (subcommand parsers inherit the class)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _at_least(minimum: int) -> Callable[[str], int]:
    """argparse ``type=`` for an integer option ``>= minimum`` (the message names the rule)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def _ratio_label(key: str) -> str:
    """``bitmod_agg_vs_fp16`` -> ``agg/fp16`` (a speed-up: the second design's cycles over the first's)."""
    a, b = key.replace("bitmod_", "").split("_vs_")
    return f"{a}/{b}"


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from hwsim.arch.reproduce_bitmod import DESIGNS, MODELS, RATIOS, TASKS, reproduce

    if args.json:
        check_writable(args.json, what="--json")
    rep = reproduce(args.version, args.mode)
    official = reproduce(args.version, "official") if args.mode != "official" else None
    for task in TASKS:
        rows = []
        for model in MODELS:
            c, pc = rep.cycles[model][task], rep.paper_cycles[model][task]
            row: dict[str, Any] = {"model": model}
            row.update({d: c[d] for d in DESIGNS})
            row.update({_ratio_label(key): f"{c[num] / c[den]:.2f} ({pc[num] / pc[den]:.2f})"
                        for key, num, den in RATIOS})
            if official is not None:
                oc = official.cycles[model][task]
                row.update({f"{d}/off": f"{c[d] / oc[d]:.2f}" for d in DESIGNS})
            rows.append(row)
        mean = {"model": "mean"} | {d: "" for d in DESIGNS} | {
            _ratio_label(key): f"{rep.mean[task][key]:.2f} ({rep.paper_mean[task][key]:.2f})" for key, _, _ in RATIOS}
        _print_table(pd.DataFrame([*rows, mean]).fillna(""),
                     f"BitMoD HPCA'25, {task} task, simulator version {args.version}, {args.mode} schedule: "
                     f"total cycles; speed-ups x/y = cycles of y / cycles of x, (paper's value)"
                     + ("; d/off = cycles / official-schedule cycles" if official is not None else ""))
    if args.json:
        print(f"wrote {write_text(args.json, json.dumps(rep.as_json(), indent=1) + chr(10))}")
    return 0


def _add_reproduce_parser(sub: Any) -> None:
    r = sub.add_parser("reproduce", help="reproduce a paper's accelerator results: `reproduce bitmod`")
    r.add_argument("paper", choices=["bitmod"], help="bitmod: BitMoD HPCA'25 Fig. 7 (five designs, six LLMs)")
    r.add_argument("--version", choices=["paper", "head"], default="paper",
                   help="official simulator version: paper (58d7bdb, the figure's data) or head (e445a5f)")
    r.add_argument("--mode", choices=["official", "physical", "hwsim"], default="official",
                   help="official: the simulator's tile schedule and memory rules; physical: the same arrays "
                        "as output-stationary systolic arrays (fill/skew/drain) with the official memory rules; "
                        "hwsim: that schedule with hwsim's memory model (both add the ratio to official)")
    r.add_argument("--json", help="write {models: {model: {task: {design: cycles}}}, mean: {...}}")
    r.set_defaults(func=_cmd_reproduce)


# --- studies (issue 13) -------------------------------------------------------------------------
def _sweep_progress() -> tuple[Any, Callable[[int, int, int, int], None]]:
    """A rich progress bar (ETA, done/failed/skipped counts) and the callback that drives it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=False)
    task = bar.add_task("", total=None)

    def update(ok: int, failed: int, skipped: int, total: int) -> None:
        bar.update(task, total=max(total - skipped, 0), completed=ok + failed,
                   description=f"done {ok}, failed {failed}, skipped {skipped}")

    return bar, update


def _cmd_sweep(args: argparse.Namespace) -> int:
    from hwsim.study.runner import sweep
    from hwsim.study.spec import load_study

    study = load_study(args.study)
    print(f"study {study.name}: {study.size()} point(s), metrics {', '.join(study.metrics)}; results in "
          f"{study.folder / 'results'}")
    bar, update = _sweep_progress()
    with bar if not args.quiet else _nullcontext():
        summary = sweep(study, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                        retry_failed=args.retry_failed, progress=None if args.quiet else update)
    print(f"{summary.ok} done, {summary.failed} failed, {summary.skipped} skipped (already stored) of "
          f"{summary.total} in {summary.tasks} task(s), {summary.wall_s:.1f} s on {summary.executor}")
    for err in summary.errors:
        print(f"  failed: {err}")
    return 1 if summary.failed else 0


def _nullcontext() -> Any:
    import contextlib

    return contextlib.nullcontext()


def _cmd_results(args: argparse.Namespace) -> int:
    from hwsim.study.store import ResultsStore

    store = ResultsStore.of(args.study)
    if args.compact:
        part = store.compact()
        print(f"compacted into {part}" if part else "nothing to compact")
    df = store.points()
    if args.csv:
        if args.csv == "-":
            df.to_csv(sys.stdout, index=False)
            return 0
        check_writable(args.csv, what="--csv")
        with atomic_write(args.csv, "w", encoding="utf-8") as fh:
            df.to_csv(fh, index=False)
        print(f"wrote {len(df)} row(s) to {args.csv}")
        return 0
    if not len(df):
        print(f"no results in {store.root}")
        return 0
    counts = df["status"].value_counts().to_dict()
    print(f"{len(df)} point(s) in {store.root}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    _print_table(df.head(args.head), f"first {min(args.head, len(df))} row(s)")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from hwsim.study.plots import plot_study

    for path in plot_study(args.study, args.out):
        print(f"wrote {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from hwsim.study.html_report import write_report

    print(f"wrote {write_report(args.study, args.out)}")
    return 0


def _add_study_parsers(sub: Any) -> None:
    s = sub.add_parser("sweep", help="run a study (studies/<name>/study.toml): every pending point, resumable")
    s.add_argument("study", help="a study.toml or the folder holding one")
    s.add_argument("--executor", choices=["local", "serial", "dask"], default="local",
                   help="local: a process pool (default); serial: this process; dask: a Dask cluster")
    s.add_argument("--workers", type=_at_least(1), help="processes (local) or LocalCluster workers (dask); "
                                                       "default: every core")
    s.add_argument("--scheduler", help="a running Dask scheduler, e.g. tcp://host:8786 (implies --executor dask)")
    s.add_argument("--retry-failed", action="store_true", help="run the points stored as failed again")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_sweep)
    r = sub.add_parser("results", help="a study's results store: counts, first rows, --csv export")
    r.add_argument("study", help="a study folder or its study.toml")
    r.add_argument("--csv", help="write every point as CSV ('-': stdout)")
    r.add_argument("--head", type=_at_least(1), default=10, help="rows to print (default 10)")
    r.add_argument("--compact", action="store_true", help="merge the part files into one first")
    r.set_defaults(func=_cmd_results)
    p = sub.add_parser("plot", help="a study's plots (PNG + PDF) from its results store")
    p.add_argument("study", help="a study folder or its study.toml")
    p.add_argument("--out", help="folder (default: <study>/plots)")
    p.set_defaults(func=_cmd_plot)
    h = sub.add_parser("report", help="one self-contained report.html of a study (plots, table, TOML)")
    h.add_argument("study", help="a study folder or its study.toml")
    h.add_argument("--out", help="HTML file (default: <study>/report.html)")
    h.set_defaults(func=_cmd_report)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hwsim", description=__doc__.split("\n\n")[0] if __doc__ else None,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("formats", help="list the format catalog, `show NAME`, or `compare`",
                       description="The format catalog: `hwsim formats` lists it; `hwsim formats show NAME` "
                                   "prints one format; `hwsim formats compare --formats a,b,...` compares "
                                   "formats on data (`hwsim formats compare --help`).")
    f.set_defaults(func=_cmd_formats, action="list")
    fsub = f.add_subparsers(dest="action", metavar="{list,show,compare}")
    fsub.add_parser("list", help="the catalog table (the default)",
                    description="Every catalog format: bits, block, element, scale rule, range.")
    fs = fsub.add_parser("show", help="every element value and the scale rule of one format",
                         description="Every element value and the scale rule of one format.")
    fs.add_argument("name", nargs="?", help="a catalog format name, e.g. mxfp4")
    fs.add_argument("--all", action="store_true", help="print every value, however many")
    fc = fsub.add_parser("compare", help="QSNR, NMSE, clamped/flushed fractions of formats on the same data",
                         description="Quantize the same data with each format (along the last axis, the "
                                     "reduction axis) and print QSNR, NMSE, the fractions of elements clamped "
                                     "at +-max and flushed to zero, outliers and encode time.")
    fc.add_argument("--data", default="gaussian",
                    help="gaussian | laplace | student-t | minilm (its Linear weights) | file.npy")
    fc.add_argument("--formats", help="comma-separated format names")
    fc.add_argument("--rows", type=_at_least(1), default=256, help="synthetic data rows")
    fc.add_argument("--cols", type=_at_least(1), default=4096, help="synthetic data columns (the reduction axis)")
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--csv", help="also write the table as CSV")

    q = sub.add_parser("quantize", help="fake-quantize (or --codes: encode) a .npy array")
    q.add_argument("--format", required=True)
    q.add_argument("input")
    q.add_argument("output")
    q.add_argument("--axis", type=int, default=-1)
    q.add_argument("--rounding", choices=["even", "away", "zero", "stochastic"])
    q.add_argument("--seed", type=int)
    q.add_argument("--codes", action="store_true", help="write codes/scales (.npz) instead of values")
    q.set_defaults(func=_cmd_quantize)

    t = sub.add_parser("tour", help="QSNR of every core-family format (element + scaling) on synthetic data "
                                    "+ plot; `formats compare` for any list")
    t.add_argument("--distribution", default="gaussian", choices=["gaussian", "laplace", "student-t"])
    t.add_argument("--rows", type=_at_least(1), default=1024)
    t.add_argument("--cols", type=_at_least(1), default=1024)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="studies/format-tour")
    t.set_defaults(func=_cmd_tour)

    a = sub.add_parser("accelerators", help="list the accelerator catalog")
    a.set_defaults(func=_cmd_accelerators)

    g = sub.add_parser("gemm", help="cost of one GEMM A[m,k] @ W[k,n] on an accelerator")
    g.add_argument("--accelerator", required=True)
    g.add_argument("-m", type=int, required=True)
    g.add_argument("-k", type=int, required=True)
    g.add_argument("-n", type=int, required=True)
    g.add_argument("--a-format")
    g.add_argument("--w-format")
    g.add_argument("--csv")
    g.set_defaults(func=_cmd_gemm)

    w = sub.add_parser("workload", help="per-layer cost of a built-in workload or of a model's GEMMs",
                       description="Per-layer cost of a built-in workload (bert-base, llama-block, resnet18, "
                                   "resnet50) or of one forward pass of a bridge model (smollm2, minilm) or a "
                                   "Hugging Face config.json (llama/bert), built from the model's config "
                                   "without running it: the GEMM list `hwsim run` records.")
    w.add_argument("name")
    w.add_argument("--accelerator", required=True)
    w.add_argument("--a-format")
    w.add_argument("--w-format")
    w.add_argument("--seq", type=int, help="tokens per sequence (transformers; model default 128)")
    w.add_argument("--batch", type=int, help="sequences / images per forward (default 1)")
    w.add_argument("--csv")
    w.set_defaults(func=_cmd_workload)

    c = sub.add_parser("cost", help="re-price a saved run (`run --json`) on other accelerators",
                       description="Re-price the GEMMs a saved run recorded (`hwsim run --json`, one run or "
                                   "the list `--compare` writes) on other accelerators, without re-running "
                                   "the model: accuracy does not depend on the array.")
    c.add_argument("run_json", help="a JSON file written by `hwsim run --json`")
    c.add_argument("--accelerator", required=True, help="comma-separated accelerator names")
    c.add_argument("--json", help="write the re-priced reports (a list) as JSON")
    c.add_argument("--csv", help="write the comparison table as CSV")
    c.add_argument("--plot", help="metric vs energy plot (colour = format, marker = accelerator)")
    c.set_defaults(func=_cmd_cost)

    r = sub.add_parser("run", help="run a real model with its GEMMs on the simulated datapath")
    r.add_argument("--model", required=True, help="smollm2 | minilm | digits-mlp | digits-cnn")
    r.add_argument("--weights", default="mxfp4")
    r.add_argument("--activations", help="default mxfp8_e4m3; with --compare: the compared format")
    r.add_argument("--accelerator", default="mx-systolic-32",
                   help="accelerator; with --compare a comma-separated list (the model runs once per "
                        "format, on the first; the others re-price its GEMMs)")
    r.add_argument("--kv-cache", help="format of K and V in attention (default: the activation format)")
    r.add_argument("--v-cache", help="format of V when it differs from K's (default: --kv-cache)")
    r.add_argument("--ksort", nargs="?", const=True, default=False, choices=[True, "interleaved", "halves"],
                   help="K-sort q/k channels in attention (arXiv 2403.20137; for block-quantized K caches); "
                        "optional RoPE pair layout interleaved (default) | halves")
    r.add_argument("--accumulate", help="accumulator format (default fp32: exact products summed in float64, "
                                        "rounded once), or block_dot: each Linear output as OCP MX DotGeneral "
                                        "(exact block dot products, FP32-accumulated block by block; block-scaled "
                                        "weights and activations of one block size)")
    r.add_argument("--gemm", choices=["mac", "lut"], default="mac",
                   help="Linear GEMMs by multiply-accumulate (default) or T-MAC bit-plane table lookup")
    r.add_argument("--lut-table", choices=["full", "fp32", "int8"], default="full",
                   help="--gemm lut: table entries full precision (default), fp32, or int8 (T-MAC table quantization)")
    r.add_argument("--skip", action="append", default=[], help="module-name pattern kept fp32 (repeatable)")
    r.add_argument("--no-default-skip", action="store_true", help="also quantize SmolLM2's tied lm_head")
    r.add_argument("--no-attention", action="store_true", help="leave activation x activation GEMMs fp32")
    r.add_argument("--size", default="ci", help="evaluation size: ci (seconds), short, full")
    r.add_argument("--compare", help="comma-separated formats: one run each (weights = activations)")
    r.add_argument("--plot", help="--compare: accuracy-vs-energy plot path")
    r.add_argument("--threads", type=_at_least(1), help="torch threads")
    r.add_argument("--json", help="the report as JSON (re-price it later with `hwsim cost`)")
    r.add_argument("--csv", help="one row per GEMM (single run) or per format x accelerator (--compare)")
    r.add_argument("--quiet", action="store_true", help="print the summary only, not the per-layer table")
    r.set_defaults(func=_cmd_run)
    tr = sub.add_parser("train", help="train a model on the simulated datapath (hwsim/train/recipes.toml)")
    tr.add_argument("--model", required=True, choices=["tiny-lm", "digits-cnn", "digits-mlp", "smollm2"],
                    help="smollm2 fine-tunes the pretrained SmolLM2-135M (seconds per step)")
    tr.add_argument("--recipe", default="fp32", help="a recipe of hwsim/train/recipes.toml")
    tr.add_argument("--compare", help="comma-separated recipes: one run each, same seed and data")
    tr.add_argument("--steps", type=_at_least(1), help="training steps (default 300 tiny-lm, 100 digits, 20 smollm2)")
    tr.add_argument("--batch-size", type=_at_least(1), help="sequences or images per step (default 8 tiny-lm, "
                    "64 digits, 4 smollm2)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=_at_least(1), default=1,
                    help="threads of the quantization kernels (default 1; torch stays on one thread: bit-reproducible)")
    tr.add_argument("--eval-every", type=_at_least(1), help="validation every N steps (default steps/10)")
    tr.add_argument("--accumulate", choices=["fp32", "float64"], default="fp32",
                    help="GEMM sums: fp32 matmul on one thread (default) or float64 rounded once")
    tr.add_argument("--accelerator", default="mx-systolic-32", help="prices the step's GEMMs")
    tr.add_argument("--out", help="folder for MODEL_curves.csv, _summary.csv, _step_cost.csv, _loss.png")
    tr.set_defaults(func=_cmd_train)
    _add_rtl_parser(sub)
    _add_reproduce_parser(sub)
    _add_study_parsers(sub)
    return p


#: top-level modules of the optional ``bridge`` extra (pyproject.toml), by import name
_BRIDGE_MODULES = frozenset({"torch", "transformers", "gguf", "accelerate", "safetensors", "scipy", "sklearn",
                             "gensim"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done, 2 bad input (one ``hwsim: error:`` line on stderr,
    no traceback, no output file written), 0 on a closed pipe."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2, message printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except BrokenPipeError:  # `hwsim formats show fp16 | head`
        return 0
    except (HwsimError, ValueError, KeyError, OSError) as exc:  # library errors carry the field name
        print(f"hwsim: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _BRIDGE_MODULES:
            raise
        print(f"hwsim: error: `hwsim {args.command}` needs the optional bridge dependencies (module {top!r} "
              f"is not installed): pip install 'hwsim[bridge]'", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
