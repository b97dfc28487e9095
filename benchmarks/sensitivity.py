"""How small a bug the properties catch: sweep a bug's size ε down until it is missed.

    python benchmarks/sensitivity.py [--max-examples N]

Two families of graded mutants, ε read from LSTM_PROPS_SENSITIVITY_EPS at call time:

* CoupledCarry: c_{t-1} leaks ε into the neighbouring unit before the forget gate, an
  off-diagonal carry Jacobian entry of size ε·f;
* ScaledCarryBackward: the backward returns (1 + ε)·f ⊙ dc for dc_{t-1}, a relative error
  ε in the backward carry with an exact forward.

For each family, dtype and property it prints the smallest ε (powers of ten) still caught,
each run being the "mutants" profile (derandomized, 30 examples, no shrinking).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import pytest
import torch

from lstm_props._harness.declared import properties_dir
from lstm_props.mutants._base import Mutant, carry_product

ENV = "LSTM_PROPS_SENSITIVITY_EPS"
HERE = Path(__file__).resolve()


def _eps() -> float:
    return float(os.environ.get(ENV, "0"))


class CoupledCarry(Mutant):
    """c' = f ⊙ (c + ε roll(c)) + i ⊙ g: an off-diagonal carry entry ε·f."""

    def update(self, i, f, g, c):
        return f * (c + _eps() * torch.roll(c, 1, dims=1)) + i * g


_ScaledBackward = carry_product(lambda grad, f: grad * f * (1 + _eps()))


class ScaledCarryBackward(Mutant):
    """dc_{t-1} = (1 + ε) f ⊙ dc_t: a relative error ε in the backward carry only."""

    def update(self, i, f, g, c):
        return _ScaledBackward.apply(f, c) + i * g


FAMILIES = {
    "CoupledCarry": [
        "test_carry_jacobian_is_diagonal",
        "test_carry_map_is_affine_in_c",
        "test_step_values_match_reference",
    ],
    "ScaledCarryBackward": [
        "test_carry_product_matches_oracle",
        "test_carry_jacobian_diagonal_equals_forget_gate",
        "test_carry_slope_matches_autograd",
        "test_carry_backward_matches_finite_differences",
    ],
}
EPSILONS = [10.0**-k for k in range(1, 16)]


class _Quiet:
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.failed:
            self.failed = True

    failed = False


def caught(family: str, prop: str, dtype: str, eps: float, max_examples: int) -> bool:
    os.environ[ENV] = repr(eps)
    collector = _Quiet()
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(
            [
                str(properties_dir()),
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "--lstm-adapter",
                f"{HERE}:{family}",
                "--lstm-dtype",
                dtype,
                "--lstm-profile",
                "mutants",
                "--lstm-max-examples",
                str(max_examples),
                "-k",
                prop,
            ],
            plugins=[collector],
        )
    return collector.failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=30)
    ns = parser.parse_args()
    rows = []
    for family, props in FAMILIES.items():
        for dtype in ("float32", "float64"):
            for prop in props:
                smallest = None
                for eps in EPSILONS:  # monotone in practice: stop at the first miss
                    if not caught(family, prop, dtype, eps, ns.max_examples):
                        break
                    smallest = eps
                rows.append((family, dtype, prop.removeprefix("test_"), smallest))
    print(f"\n{'bug':22}{'dtype':9}{'property':50}smallest ε caught")
    for family, dtype, prop, smallest in rows:
        found = "not caught" if smallest is None else f"{smallest:.0e}"
        print(f"{family:22}{dtype:9}{prop:50}{found}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
