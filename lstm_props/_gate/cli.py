"""``lstm-props``: the conformance gate. ``check`` runs the properties through pytest and
answers with an exit code; ``list`` prints the properties, built-in targets and variants;
``selftest`` runs the mutant zoo and prints the kill matrix; ``check --steps T`` checks the
carry product at production sizes on the model's own weights; ``bench`` measures what that
costs against one forward pass; ``horizon`` measures a trained model's forget-gate timescales
and memory horizon on the user's data (a measurement, not a verdict).

Exit codes: 0 every applicable property passed; 1 a property failed; 2 a usage error, a
target that cannot be loaded, an adapter fault (a step or backward that raises, wrong shapes,
NaN), a bug of lstm_props itself, an interrupted run or one that died before finishing;
3 nothing verified (no property that calls the target passed: every one was skipped).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from lstm_props._gate import horizon_command
from lstm_props._gate.check_command import check, check_at_scale, scale_case
from lstm_props._gate.doc_blocks import KILLS_MARKERS, MATRIX_MARKERS
from lstm_props._gate.list_command import list_properties
from lstm_props._gate.options import DEFAULT_TARGET, DEVICES, DTYPES
from lstm_props._gate.shard import WHOLE, parse_shard
from lstm_props._gate.usage import usage_error
from lstm_props._harness.profiles import USER_PROFILES
from lstm_props.maths.layout import VARIANTS

PROFILES = USER_PROFILES
EPILOG = (
    "exit codes: 0 all applicable properties passed; 1 a property failed; "
    "2 usage error, unloadable target, adapter fault, suite error, interrupted or died; "
    "3 nothing verified (every property that calls the target was skipped)"
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, e.g. 25") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstm-props", description=__doc__.split("\n\n")[0], epilog=EPILOG
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a target against every property", epilog=EPILOG)
    check.add_argument(
        "target",
        nargs="?",
        default=DEFAULT_TARGET,
        help=f"package.module:attr or path/to/file.py:attr (default {DEFAULT_TARGET})",
    )
    check.add_argument("--variant", choices=VARIANTS)
    check.add_argument("--device", choices=DEVICES, default="cpu")
    check.add_argument("--dtype", choices=DTYPES, default="float32")
    check.add_argument("--profile", choices=PROFILES, default="ci")
    check.add_argument("--max-examples", type=_positive, metavar="N")
    check.add_argument("--seed", type=int, metavar="N")
    check.add_argument("--workers", type=_positive, metavar="N", default=1)
    check.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="end the check (exit 2) when loading the target or one property "
        "outlives this, naming the call that hung (default 3600; 0: none)",
    )
    check.add_argument("--json", metavar="PATH", help="write results as JSON")
    check.add_argument("--junitxml", metavar="PATH", help="write JUnit XML")
    check.add_argument(
        "--report",
        metavar="PATH",
        help="write a self-contained HTML report (matrix, failures, pictures)",
    )
    check.add_argument(
        "--xfail", metavar="FILE", help="known deviations: one property id per line, # comments"
    )
    scale = check.add_argument_group(
        "production sizes",
        "with --steps, check the carry product over T steps on the "
        "model's own weights, chunk by chunk, instead of the small-size properties",
    )
    _scale_options(scale, default_hidden=None)
    listing = sub.add_parser(
        "list", help="the properties (with what each needs), built-in targets and variants"
    )
    listing.add_argument(
        "--markdown",
        action="store_true",
        help="the properties as docs/properties.md's guarantees table",
    )
    listing.add_argument(
        "--readme",
        metavar="PATH",
        help="also write that table into PATH (docs/properties.md) between its marker lines",
    )
    zoo = sub.add_parser(
        "selftest", help="run the mutant zoo, print the kill matrix; exit 1 if a mutant survives"
    )
    zoo.add_argument(
        "--mutant",
        action="append",
        metavar="NAME",
        help="only this mutant (repeatable); a TARGET string is run as one too",
    )
    zoo.add_argument(
        "--workers", type=_positive, metavar="N", default=1, help="mutants run in parallel"
    )
    zoo.add_argument("--max-examples", type=_positive, metavar="N")
    zoo.add_argument("--json", metavar="PATH", help="write the matrix as JSON")
    zoo.add_argument(
        "--readme",
        metavar="PATH",
        help="also write the matrix into PATH (docs/mutants.md) between its marker lines",
    )
    zoo.add_argument(
        "--black-box",
        action="store_true",
        help="hide the mutants' layout: measure what black-box mode catches",
    )
    zoo.add_argument(
        "--hidden",
        type=_positive,
        metavar="N",
        help="build each mutant once as a fixed-size model at input = hidden = N "
        "(a user's own size) instead of drawing small sizes",
    )
    bench = sub.add_parser(
        "bench",
        help="time the carry verification of torch.nn.LSTMCell "
        "against its forward pass and the naive dense Jacobian",
    )
    _scale_options(bench, default_hidden=1024)
    bench.set_defaults(steps=1024)
    bench.add_argument("--device", choices=DEVICES, default="cpu")
    bench.add_argument("--dtype", choices=DTYPES, default="float32")
    bench.add_argument("--threads", type=_positive, metavar="N", default=2)
    bench.add_argument(
        "--naive-seconds",
        type=float,
        metavar="S",
        default=120.0,
        help="time budget of each naive Jacobian; rows past it are extrapolated (default 120)",
    )
    bench.add_argument("--no-naive", action="store_true", help="skip the naive Jacobian")
    bench.add_argument(
        "--repeats",
        type=_positive,
        metavar="N",
        default=3,
        help="forward and verification each run N times, interleaved; medians (default 3)",
    )
    bench.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    table = sub.add_parser(
        "matrix",
        help="every installed implementation (torch, Flax, "
        "Equinox, Keras, ONNX Runtime) through the suite: one table",
    )
    table.add_argument(
        "--only",
        action="append",
        metavar="TARGET",
        help="only this implementation (repeatable; any TARGET string)",
    )
    table.add_argument(
        "--dtype",
        action="append",
        choices=DTYPES,
        dest="dtypes",
        help="repeatable (default: float32 and float64)",
    )
    # default None, not ci and 1: --merge refuses them only when given
    table.add_argument("--profile", choices=PROFILES, help="(default ci)")
    table.add_argument("--max-examples", type=_positive, metavar="N")
    table.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="run N implementation × dtype processes at once (default 1)",
    )
    table.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="run only the K-th of N shares of the implementation × dtype jobs "
        "(round-robin), e.g. 2/4, one machine each; write each with --json and --merge them",
    )
    table.add_argument(
        "--merge",
        nargs="+",
        metavar="PART",
        help="run nothing: tabulate the --json files of every shard 1/N ... N/N of one run "
        "as that run whole would (print, --readme, --json)",
    )
    table.add_argument(
        "--readme",
        metavar="PATH",
        help="also write the table into PATH (docs/matrix.md) between the matrix marker lines",
    )
    table.add_argument(
        "--json", metavar="PATH", help="also write the matrix as JSON (schema lstm_props.matrix/1)"
    )
    horizon_command.add_parser(sub, _positive)
    return parser


def _scale_options(group: argparse._ActionsContainer, default_hidden: int | None) -> None:
    group.add_argument("--steps", type=_positive, metavar="T", help="sequence length")
    group.add_argument(
        "--hidden",
        type=_positive,
        metavar="H",
        default=default_hidden,
        help="hidden (= input) size of a sized target"
        + (f" (default {default_hidden})" if default_hidden else ""),
    )
    group.add_argument("--batch", type=_positive, metavar="B", default=1)
    group.add_argument(
        "--chunk",
        type=_positive,
        metavar="C",
        default=64,
        help="steps verified per backward; memory grows with it, not with T",
    )
    group.add_argument(
        "--probes",
        type=_positive,
        metavar="K",
        default=2,
        help="random cotangents per chunk (Hutchinson-style)",
    )
    if default_hidden is None:
        group.add_argument(
            "--exact",
            action="store_true",
            help="materialise each chunk's (B·H)² carry Jacobian and require "
            "exact zeros off the diagonal, instead of probes",
        )


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    if ns.command == "list":
        if hasattr(signal, "SIGPIPE"):  # `lstm-props list | head` ends quietly
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return list_properties(ns.markdown, ns.readme)
    if ns.command == "selftest":
        return run_selftest(ns)
    if ns.command == "bench":
        return run_bench(ns)
    if ns.command == "matrix":
        return run_matrix(ns)
    if ns.command == "horizon":
        return horizon_command.run(ns)
    if ns.steps is not None:
        return check_at_scale(ns)
    if ns.hidden is not None:
        return usage_error(
            "--hidden needs --steps T: sizes apply to the production-size carry check only"
        )
    try:
        return check(ns)
    except KeyboardInterrupt:  # before or after the child ran: never a traceback, never 0
        print("lstm-props: interrupted before the run finished", file=sys.stderr)
        return 2


def run_bench(ns: argparse.Namespace) -> int:
    from lstm_props._gate.bench import run_bench as run

    if ns.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return usage_error(
                "--device cuda: torch sees no CUDA device here; run the bench "
                "on a machine with a GPU, or use --device cpu"
            )
    if ns.json is not None and not Path(ns.json).resolve().parent.is_dir():
        return usage_error(f"--json {ns.json!r}: the directory does not exist")
    return run(
        scale_case(ns),
        ns.device,
        ns.dtype,
        ns.threads,
        ns.naive_seconds,
        not ns.no_naive,
        ns.json,
        ns.repeats,
    )


def _markers_problem(readme: str, markers: tuple[str, str]) -> str:
    """Why ``--readme`` cannot take the generated block ("" if it can), before the run."""
    path, (start, end) = Path(readme), markers
    text = path.read_text() if path.is_file() else ""
    if start in text and end in text:
        return ""
    return (
        f"--readme {readme!r}: needs an existing file with the lines {start} and {end} "
        "to write the table between"
    )


def run_matrix(ns: argparse.Namespace) -> int:
    from lstm_props._gate.matrix import run_matrix
    from lstm_props._gate.matrix_merge import MergeError, merge

    problem = _shard_problem(ns)
    if problem:
        return usage_error(problem)
    if ns.readme is not None:
        problem = _markers_problem(ns.readme, MATRIX_MARKERS)
        if problem:
            return usage_error(problem)
    if ns.json is not None:
        from lstm_props._gate.options import output_path_problem

        problem = output_path_problem(ns.json)
        if problem:
            return usage_error(f"--json {ns.json!r}: {problem}")
    if ns.merge is not None:
        try:
            return merge(ns.merge, ns.readme, ns.json)
        except MergeError as e:
            return usage_error(f"--merge: {e}")
    return run_matrix(
        ns.only,
        ns.dtypes or ["float32", "float64"],  # half precision: on request (--dtype)
        ns.profile or "ci",
        ns.max_examples,
        ns.readme,
        ns.workers or 1,
        ns.json,
        ns.shard or WHOLE,
    )


def _shard_problem(ns: argparse.Namespace) -> str:
    """Why ``--shard``/``--merge`` do not go with the other options ("" if they do): a
    shard's table is a part, not the docs' table; a merge runs nothing."""
    if ns.merge is not None:
        run_options = {
            "--only": ns.only,
            "--dtype": ns.dtypes,
            "--profile": ns.profile,
            "--max-examples": ns.max_examples,
            "--workers": ns.workers,
            "--shard": ns.shard,
        }
        given = [flag for flag, value in run_options.items() if value is not None]
        if given:
            return (
                f"{given[0]} with --merge: a merge runs nothing; give the run's options "
                "to each shard, and --merge only --readme and --json"
            )
    elif ns.shard is not None and ns.shard != WHOLE and ns.readme is not None:
        return (
            f"--readme with --shard {ns.shard}: a shard holds part of the table; write "
            "each shard with --json PATH and --merge them with --readme"
        )
    return ""


def run_selftest(ns: argparse.Namespace) -> int:
    from lstm_props._gate.selftest import selftest
    from lstm_props.mutants import KILLS

    names = ns.mutant or sorted(KILLS)
    unknown = [n for n in names if ":" not in n and n not in KILLS]
    if unknown:
        return usage_error(
            f"--mutant {unknown[0]!r}: no such mutant; `lstm-props selftest` "
            "with no --mutant runs all of them (see lstm_props.mutants)"
        )
    if ns.readme is not None:
        problem = _markers_problem(ns.readme, KILLS_MARKERS)
        if problem:
            return usage_error(problem)
    return selftest(names, ns.workers, ns.max_examples, ns.json, ns.black_box, ns.hidden, ns.readme)
