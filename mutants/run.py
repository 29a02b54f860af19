"""Mutation check over a curated list of realistic bugs (mutants/mutants.toml).

For each mutant: copy the repository's files (``git ls-files``: tracked plus untracked-but-not-
ignored) into a scratch tree, replace the mutant's ``old`` snippet (which must occur exactly once
in its file) by ``new``, run the mutant's pytest selection against the copy with a fresh numba
cache, and record

- ``killed``: the selection failed, timed out, or crashed on a signal (a mutated numba kernel that
  reads out of bounds segfaults the interpreter) -- the suite catches this bug;
- ``survived``: the selection passed -- the suite misses it (the diff is printed);
- ``stale``: the snippet is missing or ambiguous (the code moved; retarget the mutant);
- ``error``: the run could not be judged (pytest collected nothing, crashed before running, ...).

The working tree is never modified. Before the mutants, the union of their selections runs on the
unmutated copy ("baseline"); a failing baseline stops the run.

Numba caches compiled kernels on disk keyed by the source file and validates an entry only by
*that* file's timestamp, while a jitted callee from another module is compiled into its caller: a
mutant of ``rounding.round_shift`` would leave the cached ``codec._encode_kernel`` stale. So every
mutant gets its own ``NUMBA_CACHE_DIR``: a copy of the unmutated baseline's cache with the kernels
of the mutated file and of every numba module importing it (transitively) purged, so they
recompile; ``--purge-all`` starts mutants of numba modules from an empty cache instead. The
baseline cache persists across runs (``~/.cache/hwsim-mutants``, ``$HWSIM_MUTANTS_DIR``), keyed by
the content of every numba module, and the scratch tree lives at one fixed path, since numba keys
its cache by the source path.

Usage: python mutants/run.py [--list] [--fast] [--only ID[,ID...]] [--timeout S] [--workers N]
Exit status: 0 when every selected mutant was killed; 1 when one survived, went stale or errored;
2 when the baseline fails.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIST = Path(__file__).resolve().parent / "mutants.toml"
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    why: str
    tests: list[str]
    fast: bool = False
    timeout: float | None = None  #: seconds for this mutant's run (a mutant that makes a kernel loop forever)


def load(path: Path = LIST) -> list[Mutant]:
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    out, seen = [], set()
    for i, m in enumerate(doc.get("mutant", [])):
        missing = [k for k in ("id", "file", "old", "new", "why", "tests") if k not in m]
        if missing:
            raise SystemExit(f"{path}: mutant #{i + 1} ({m.get('id', '?')}) lacks {missing}")
        if m["id"] in seen:
            raise SystemExit(f"{path}: duplicate mutant id {m['id']!r}")
        seen.add(m["id"])
        tests = shlex.split(m["tests"]) if isinstance(m["tests"], str) else list(m["tests"])
        timeout = m.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise SystemExit(f"{path}: mutant {m['id']}: timeout must be a number of seconds > 0, got {timeout!r}")
        out.append(Mutant(m["id"], m["file"], m["old"], m["new"], m["why"], tests, bool(m.get("fast", False)),
                          None if timeout is None else float(timeout)))
    return out


def repo_files() -> list[str]:
    res = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True)
    names = [n for n in res.stdout.decode().split("\0") if n]
    # a study's results store is data a running sweep rewrites (parts appear, compaction deletes
    # them) and no test reads it: leave it out of the copy
    names = [n for n in names if not (n.startswith("studies/") and "/results/" in n)]
    return sorted(n for n in set(names) if (ROOT / n).is_file())


def copy_tree(files: list[str], dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)  # keeps mtimes: numba's cache stamps stay valid


def check(m: Mutant) -> str | None:
    """Why the mutant cannot be applied to today's tree (None if it can)."""
    path = ROOT / m.file
    if not path.is_file():
        return f"file {m.file} does not exist (moved? retarget the mutant)"
    n = path.read_text().count(m.old)
    if n != 1:
        return (f"`old` snippet occurs {n} times in {m.file} (must be exactly once: "
                f"{'stale, the code changed' if n == 0 else 'ambiguous, add context'})")
    if m.old == m.new:
        return "`new` equals `old`"
    return None


def workspace(files: list[str]) -> tuple[Path, Path, Path]:
    """(scratch root, tree path, baseline numba cache) at fixed paths, so that the baseline's
    compiled kernels (keyed by source path, checked by each file's mtime and size) are reused
    across runs. The baseline cache is keyed by the content of every numba source file: numba
    does not notice a change in an inlined callee from another file, so any change starts it afresh."""
    base = os.environ.get("HWSIM_MUTANTS_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hwsim-mutants")
    scratch = Path(base) / hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    h = hashlib.sha1()
    for name in files:
        if name.endswith(".py"):
            text = (ROOT / name).read_bytes()
            if uses_numba(text.decode(errors="replace")):
                h.update(name.encode() + b"\0" + text)
    key = f"numba-{h.hexdigest()[:12]}"
    scratch.mkdir(parents=True, exist_ok=True)
    for old in scratch.glob("numba-*"):
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    return scratch, scratch / "tree", scratch / key


def uses_numba(text: str) -> bool:
    """The module imports numba (so it may define jitted kernels)."""
    return re.search(r"^\s*(import numba|from numba)", text, re.M) is not None


def _imports(text: str) -> set[str]:
    """Dotted names of the hwsim modules a source file imports (any nesting level)."""
    out: set[str] = set()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in out if n.startswith("hwsim")}


def numba_dependents(tree: Path, files: list[str], mutated: str) -> set[str]:
    """Numba source files whose compiled kernels may contain code of ``mutated``: the file itself
    and every numba file importing it, directly or through other numba files (a jitted callee from
    another module is compiled into its caller, and numba's cache only checks the caller's file)."""
    mod = {f: f[:-3].replace("/", ".").removesuffix(".__init__") for f in files if f.endswith(".py")}
    numba_files = {f for f in mod if uses_numba((tree / f).read_text(errors="replace"))}
    if mutated not in numba_files:  # no kernel can hold its code (lazy imports of it are Python calls)
        return set()
    imports = {f: _imports((tree / f).read_text(errors="replace")) for f in numba_files}
    hit, frontier = {mutated}, [mutated]
    while frontier:
        target = mod.get(frontier.pop())
        for f in numba_files - hit:
            if target in imports[f]:
                hit.add(f)
                frontier.append(f)
    return hit


def purge(cache: Path, tree: Path, names: set[str]) -> int:
    """Delete the cached kernels of the source files ``names`` (relative to ``tree``) from a
    NUMBA_CACHE_DIR: numba stores them as <file stem>.<function>-<line>.py3X.{nbi,nbc} under
    <parent dir name>_<sha1 of the absolute parent dir> (numba.core.caching,
    _CacheLocator.get_suitable_cache_subpath)."""
    n = 0
    for name in names:
        src = Path(os.path.abspath(tree / name))
        sub = cache / f"{src.parent.name}_{hashlib.sha1(str(src.parent).encode()).hexdigest()}"
        if not sub.is_dir():
            continue
        for f in sub.glob(src.stem + ".*"):
            if f.suffix in (".nbi", ".nbc"):
                f.unlink()
                n += 1
    return n


def run_pytest(tree: Path, cache: Path, tests: list[str], timeout: float, workers: int) -> tuple[int, str, float]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1",
               HYPOTHESIS_PROFILE=env.get("HYPOTHESIS_PROFILE", "ci"))
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, *PYTEST, "-n", str(workers), *tests]
    t0 = time.monotonic()
    try:
        res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return -1, out, time.monotonic() - t0
    return res.returncode, res.stdout + res.stderr, time.monotonic() - t0


def baseline_runs(mutants: list[Mutant]) -> list[list[str]]:
    """pytest argument lists that together run every mutant's selection once, unmutated: the
    plain path selections merged into one run; selections ``PATHS -k EXPR`` with the same paths
    merged into one run ``-k "(EXPR1) or (EXPR2)"``; any other selection with options run as it is
    (its paths alone would select more, or its option value read as a path)."""
    plain: set[str] = set()
    optioned: list[list[str]] = []
    by_k: dict[tuple[str, ...], list[str]] = {}  # paths -> -k expressions (one run, joined by "or")
    for m in mutants:
        if any(t.startswith("-") for t in m.tests):
            if len(m.tests) >= 3 and m.tests[-2] == "-k" and not any(t.startswith("-") for t in m.tests[:-2]):
                exprs = by_k.setdefault(tuple(m.tests[:-2]), [])
                if m.tests[-1] not in exprs:
                    exprs.append(m.tests[-1])
            elif m.tests not in optioned:
                optioned.append(list(m.tests))
        else:
            plain.update(m.tests)
    for paths, exprs in by_k.items():
        optioned.append([*paths, "-k", " or ".join(f"({e})" for e in exprs)])
    return ([sorted(plain)] if plain else []) + optioned


def diff(m: Mutant) -> str:
    text = (ROOT / m.file).read_text()
    new = text.replace(m.old, m.new, 1)
    return "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                        f"a/{m.file}", f"b/{m.file}", n=1))


def _stopped_on_failure(out: str) -> bool:
    """pytest-xdist with ``-x`` exits 2 (interrupted) on the first failure, not 1: a summary that
    counts failed tests is a kill all the same (a collection error reports no ``N failed``)."""
    tail = out.strip().splitlines()[-3:]
    return any(re.search(r"\b\d+ failed\b", ln) for ln in tail)


def _tail(out: str, n: int = 6) -> str:
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    return "\n".join("      " + ln for ln in lines[-n:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the curated mutants and exit")
    ap.add_argument("--fast", action="store_true", help="only the mutants marked fast (a few minutes)")
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per pytest run (a timeout counts as killed)")
    ap.add_argument("--purge-all", action="store_true",
                    help="start every mutant of numba code from an empty numba cache (slow)")
    ap.add_argument("--workers", type=int, default=0, help="pytest-xdist workers per run (0: none)")
    args = ap.parse_args(argv)

    mutants = load()
    if args.only:
        want = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = sorted(set(want) - {m.id for m in mutants})
        if unknown:
            print(f"unknown mutant id(s): {unknown}", file=sys.stderr)
            return 1
        mutants = [m for m in mutants if m.id in want]
    if args.fast:
        mutants = [m for m in mutants if m.fast]
    if args.list:
        for m in mutants:
            stale = check(m)
            print(f"{m.id:32s} {m.file:34s} {'[fast] ' if m.fast else ''}{m.why}"
                  + (f"\n{'':32s} STALE: {stale}" if stale else ""))
        print(f"{len(mutants)} mutants")
        return 0

    results: dict[str, str] = {}
    stale = {m.id: why for m in mutants if (why := check(m))}
    runnable = [m for m in mutants if m.id not in stale]
    for mid, why in stale.items():
        results[mid] = "stale"
        print(f"STALE    {mid}: {why}")
    if not runnable:
        print(f"0 killed, 0 survived, {len(stale)} stale")
        return 1

    files = repo_files()
    scratch, tree, base_cache = workspace(files)
    t_start = time.monotonic()
    try:
        copy_tree(files, tree)
        runs = baseline_runs(runnable)
        print(f"baseline: {len(runs)} pytest run(s) over the mutants' selections on the unmutated copy ...",
              flush=True)
        dt = 0.0
        for sel in runs:
            rc, out, t = run_pytest(tree, base_cache, sel, args.timeout * 2, args.workers)
            dt += t
            if rc != 0:
                print(f"baseline failing (rc={rc}, {t:.0f} s): the selected tests fail without any mutant"
                      f"\n      tests: {' '.join(sel)}\n{_tail(out, 30)}")
                return 2
        print(f"baseline passes ({dt:.0f} s)\n", flush=True)
        times: dict[str, float] = {}
        for i, m in enumerate(runnable, 1):
            copy_tree(files, tree)
            path = tree / m.file
            text = path.read_text()
            path.write_text(text.replace(m.old, m.new, 1))
            cache = scratch / "cache-mutant"
            if cache.exists():
                shutil.rmtree(cache)
            if args.purge_all and uses_numba(text) or not base_cache.exists():
                cache.mkdir()
            else:
                shutil.copytree(base_cache, cache)
                purge(cache, tree, numba_dependents(tree, files, m.file))
            rc, out, dt = run_pytest(tree, cache, m.tests, m.timeout or args.timeout, args.workers)
            times[m.id] = dt
            if rc == -1:
                status = "killed"
                note = f"(timeout after {dt:.0f} s)"
            elif rc < -1:  # the selection crashed the interpreter (a mutated numba kernel read out of bounds)
                status = "killed"
                note = f"(pytest crashed: signal {-rc})"
            elif rc == 1 or rc == 2 and _stopped_on_failure(out):
                status = "killed"
                note = ""
            elif rc == 0:
                status = "survived"
                note = ""
            else:  # 2 interrupted/collection error, 3 internal, 4 usage, 5 no tests collected
                status = "error"
                note = f"(pytest exit {rc})"
            results[m.id] = status
            print(f"[{i}/{len(runnable)}] {status.upper():8s} {m.id} ({dt:.0f} s) {note}", flush=True)
            if status == "killed" and rc >= 0:
                fails = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR", "E "))]
                for ln in fails[:2] + [ln for ln in fails if ln.startswith(("FAILED", "ERROR"))][:1]:
                    print("      " + ln[:240])
            if status == "survived":
                print(f"      {m.why}\n      tests: {' '.join(m.tests)}\n{diff(m)}")
            if status == "error":
                print(_tail(out, 15))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(scratch / "cache-mutant", ignore_errors=True)
    total = time.monotonic() - t_start
    counts = {s: sum(1 for v in results.values() if v == s) for s in ("killed", "survived", "stale", "error")}
    ran = [t for t in times.values()]
    print(f"\n{counts['killed']} killed, {counts['survived']} survived"
          + (f", {counts['stale']} stale" if counts["stale"] else "")
          + (f", {counts['error']} error" if counts["error"] else "")
          + f" of {len(results)} mutants in {total:.0f} s"
          + (f" (per mutant: mean {sum(ran) / len(ran):.0f} s, max {max(ran):.0f} s)" if ran else ""))
    return 0 if counts["killed"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
