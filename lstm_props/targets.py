"""Built-in targets, named ``lstm_props.targets:<name>`` on the command line, and the one
registry of every correct target the project knows (:data:`TARGETS`).

Each built-in is a factory taking ``input_size`` and ``hidden_size`` so the suite draws
sizes per example. ``torch.nn:LSTMCell`` and ``torch.nn:LSTM`` work directly as well.

The registry holds one :class:`TargetInfo` per correct target: the built-ins, the adapters
of other frameworks (lstm_props.adapters) and the self-tests' own correct cells
(tests/targets, named by their path in the repository). ``lstm-props list`` (the built-ins),
``lstm-props matrix`` (its rows), benchmarks/false_alarms.py (every correct torch target)
and the self-tests (which properties each must skip, which it fails as a known finding,
which runs are nightly) all read it; nothing else lists targets. Importing this module does
not import torch: the factories do, when called.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from torch import nn


def lstm_cell(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTMCell."""
    from torch import nn

    return nn.LSTMCell(input_size, hidden_size)


def lstm(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, one layer, (T, B, D) inputs; one step is a length-1 sequence."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size)


def lstm_two_layer(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with two layers, batch_first: checked layer by layer."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size, num_layers=2, batch_first=True)


def lstm_proj(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with proj_size = H // 2 (h narrower than c)."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size, proj_size=hidden_size // 2)


# A factory's smallest hidden size, read by the loader; proj_size = H // 2 needs H ≥ 2.
lstm_proj.min_hidden_size = 2  # type: ignore[attr-defined]  # an attribute on a function


def lstm_bidirectional(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, bidirectional, one layer: each direction checked as a cell, and the
    fused call against flip ∘ LSTM ∘ flip."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size, bidirectional=True)


def lstm_bidirectional_two_layer(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, bidirectional, two layers, batch_first: four cells (layer × direction),
    layer 1 reading both directions of layer 0."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size, num_layers=2, bidirectional=True, batch_first=True)


def lstm_no_bias(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with bias=False: the layout read with zero biases (not writable)."""
    from torch import nn

    return nn.LSTM(input_size, hidden_size, bias=False)


def lstm_cell_frozen(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTMCell with requires_grad=False on every parameter (a frozen layer)."""
    from torch import nn

    return nn.LSTMCell(input_size, hidden_size).requires_grad_(False)


def lstm_cell_scripted(input_size: int, hidden_size: int) -> nn.Module:
    """torch.jit.script(nn.LSTMCell): a TorchScript module, copied through jit save/load."""
    import torch
    from torch import nn

    return torch.jit.script(nn.LSTMCell(input_size, hidden_size))


def lstm_dynamic_quantized(input_size: int, hidden_size: int) -> nn.Module:
    """torch.ao.quantization.quantize_dynamic of an nn.LSTM inside a model (int8 weights,
    x and h rounded per call): checked against the oracle on the weights it holds, with the
    rounding of x and h declared in the error model; float32 on the CPU, no backward."""
    import warnings

    import torch
    from torch import nn

    class Model(nn.Module):  # quantize_dynamic swaps submodules, never the module it is given
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden_size)

    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.quantize_dynamic(Model(), {nn.LSTM}, dtype=torch.qint8)
    return model.lstm


#: Graphs torch.compile may build for one cell over a whole run: one per dtype (the float64
#: twin), grad mode, which of x, h, c require grad, and size 1 or not of B, D, H (dynamo
#: specializes 0 and 1 even under dynamic=True); a full `lstm-props check` built 181.
COMPILED_RECOMPILES = 1024


def lstm_cell_compiled(input_size: int, hidden_size: int) -> nn.Module:
    """torch.compile(nn.LSTMCell, dynamic=True, fullgraph=True): inductor's code, forward and
    backward. fullgraph makes a graph break or a hit recompile limit an error, never a
    silent eager fallback; the limits are raised process-wide (COMPILED_RECOMPILES) because
    the suite calls the cell in every combination that gets a graph of its own."""
    import torch
    from torch import nn

    allow_recompiles()
    compiled = torch.compile(nn.LSTMCell(input_size, hidden_size), dynamic=True, fullgraph=True)
    return cast("nn.Module", compiled)


def allow_recompiles() -> None:
    """Raise torch._dynamo's recompile limits (per function and in all) to
    COMPILED_RECOMPILES, process-wide: for your own torch.compile'd target, with
    fullgraph=True so that a limit hit is an error and never a silent eager run."""
    import torch._dynamo

    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, COMPILED_RECOMPILES)
    config.accumulated_recompile_limit = max(
        config.accumulated_recompile_limit, COMPILED_RECOMPILES
    )


def _exported(input_size: int, hidden_size: int, decompose: bool) -> nn.Module:
    """A copy of nn.LSTMCell's exported module, with parameters of its own drawn as
    nn.LSTMCell draws them (uniform ±1/√H). The export runs once per size
    (:func:`_exported_program`): it took 0.1 s a build, 0.6 s decomposed, and the suite
    builds a sized target for every drawn case, so a sweep run of the decomposed cell was
    an hour of exports; a copy takes 1.5 ms."""
    import copy
    import math
    import warnings

    import torch

    with warnings.catch_warnings():  # torch's own FutureWarning inside GraphModule's copy
        warnings.simplefilter("ignore", FutureWarning)
        module = copy.deepcopy(_exported_program(input_size, hidden_size, decompose))
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-bound, bound)
    vars(module).update(input_size=input_size, hidden_size=hidden_size)  # the graph has none
    return module


@functools.cache
def _exported_program(input_size: int, hidden_size: int, decompose: bool) -> nn.Module:
    import torch
    from torch import nn

    cell = nn.LSTMCell(input_size, hidden_size)
    batch = torch.export.Dim("batch")
    x, h = torch.zeros(2, input_size), torch.zeros(2, hidden_size)
    program = torch.export.export(
        cell, (x, (h, h.clone())), dynamic_shapes=({0: batch}, ({0: batch}, {0: batch}))
    )
    if decompose:
        program = program.run_decompositions()
    return program.module()  # parameters keep nn.LSTMCell's names


def lstm_cell_exported(input_size: int, hidden_size: int) -> nn.Module:
    """torch.export.export(nn.LSTMCell).module(), the batch a torch.export.Dim: the unlifted
    graph (training IR: one aten.lstm_cell), called and differentiated as a module."""
    return _exported(input_size, hidden_size, decompose=False)


def lstm_cell_exported_decomposed(input_size: int, hidden_size: int) -> nn.Module:
    """As lstm_cell_exported after run_decompositions(): core ATen (addmm, split, sigmoid,
    tanh, mul, add), torch's own decomposition of lstm_cell."""
    return _exported(input_size, hidden_size, decompose=True)


def fastrnns_script_lstm_cell(input_size: int, hidden_size: int) -> nn.Module:
    """PyTorch's benchmarks/fastrnns TorchScript LSTMCell (a jit.ScriptModule, called as
    m(x, (h, c)) -> (h, (h, c))): see lstm_props.adapters._fastrnns."""
    from lstm_props.adapters._fastrnns import LSTMCell

    return LSTMCell(input_size, hidden_size)


def reference_standard(input_size: int, hidden_size: int) -> nn.Module:
    """The reference cell, standard variant."""
    from lstm_props.maths.reference import ReferenceLSTMCell

    return ReferenceLSTMCell(input_size, hidden_size, "standard")


def reference_no_forget(input_size: int, hidden_size: int) -> nn.Module:
    """The 1997 LSTM: no forget gate (f ≡ 1)."""
    from lstm_props.maths.reference import ReferenceLSTMCell

    return ReferenceLSTMCell(input_size, hidden_size, "no_forget")


def reference_cifg(input_size: int, hidden_size: int) -> nn.Module:
    """Coupled input-forget gate: i = 1 − f."""
    from lstm_props.maths.reference import ReferenceLSTMCell

    return ReferenceLSTMCell(input_size, hidden_size, "cifg")


def reference_peephole(input_size: int, hidden_size: int) -> nn.Module:
    """Peephole connections p_i, p_f (read c_{t-1}) and p_o (reads c_t)."""
    from lstm_props.maths.reference import ReferenceLSTMCell

    return ReferenceLSTMCell(input_size, hidden_size, "peephole")


# -- the registry ------------------------------------------------------------------------------

#: What a single cell lacks (needs, lstm_props.testing.NEEDS): no fused sequence call, no
#: packed call, one direction.
CELL = frozenset({"sequence", "packed", "bidirectional"})
#: What a unidirectional stack lacks.
ONE_DIRECTION = frozenset({"bidirectional"})
#: What a cell in another parameter layout lacks: it is checked black-box.
BLACK_BOX = frozenset({"layout", "writable"})

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Finding:
    """A known deviation of a correct target: what it fails, and why that is the
    implementation's, not a tolerance to loosen (docs/frameworks.md tells each in full)."""

    why: str
    #: dtype -> the properties it fails in that dtype, as the self-tests pin them.
    fails: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    #: dtype -> properties it fails on some draws only (the same cause, drawn or not).
    may_fail: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    #: The dtypes whose run the load-time precision check stops, in one line, before any
    #: property (it computes below that precision: lstm_props._harness.precision).
    refused: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TargetInfo:
    """One correct target: everything the project knows about it, in one record."""

    #: The TARGET string (``--lstm-adapter``, ``lstm-props check``); a self-test's cell is
    #: named by its path in the repository (see :meth:`located`).
    name: str
    #: The variant it declares (the oracle it is checked against).
    variant: str = "standard"
    #: The package it needs installed (the matrix says "not installed" without it).
    package: str = "torch"
    #: Environment it must run in (Keras picks its backend once per process).
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: The needs (lstm_props.testing.NEEDS) it does not meet, as a person states them
    #: (a cell has no sequence call; nn.LSTM(bias=False) has no writable layout): its
    #: expected skips (:attr:`skips`) follow from them and the declarations. None: not
    #: pinned (no self-test runs it through the whole suite and compares).
    lacks: frozenset[str] | None = None
    #: Known deviations (a correct target may fail a property for a reason of its own).
    findings: tuple[Finding, ...] = ()
    #: The dtypes whose whole-suite self-test runs only nightly (``-m nightly``).
    nightly: frozenset[str] = frozenset()
    #: A row of ``lstm-props matrix``.
    matrix: bool = False
    #: The dtypes it computes in (a float32-only kernel refuses a float64 run at load).
    dtypes: frozenset[str] = frozenset({"float32", "float64"})

    @property
    def skips(self) -> frozenset[str] | None:
        """The properties (ids) it must skip, and nothing else, on the CPU with its layout,
        besides what the run's own settings skip (CUDA agreement on the CPU, float32 against
        float64 in a float64 run, own-precision finite differences for a target with a
        float64 twin): each property that needs what it lacks or does not hold for its
        variant. A new property's declaration extends this by itself; the self-tests then
        compare it with what the harness, which asks the target, actually skipped."""
        if self.lacks is None:
            return None
        # Imported here: the declarations import the property modules (torch, Hypothesis),
        # and importing the registry must not.
        from lstm_props._harness.declared import declarations

        return frozenset(
            d.id
            for d in declarations()
            if set(d.needs) & self.lacks
            or (d.variants is not None and self.variant not in d.variants)
        )

    @property
    def builtin(self) -> bool:
        """torch's own or lstm_props.targets': what ``lstm-props list`` shows."""
        return self.name.startswith(("torch.nn:", "lstm_props.targets:"))

    @property
    def in_tests(self) -> bool:
        """A self-test's cell (tests/targets), not installed with the package."""
        return self.name.startswith("tests/")

    def located(self, root: Path) -> str:
        """The TARGET string to load from anywhere: a self-test's cell by its absolute path
        (``root`` is the repository), every other name as it is."""
        return str(root / self.name) if self.in_tests else self.name

    def fails(self, dtype: str) -> frozenset[str]:
        """The properties its findings fail in ``dtype`` (pinned by the self-tests)."""
        return frozenset().union(*(f.fails.get(dtype, frozenset()) for f in self.findings))

    def may_fail(self, dtype: str) -> frozenset[str]:
        return frozenset().union(*(f.may_fail.get(dtype, frozenset()) for f in self.findings))

    def refused(self, dtype: str) -> bool:
        """Whether a run in ``dtype`` is stopped at load as below its declared precision."""
        return any(dtype in f.refused for f in self.findings)


# Keras 3 computes `ops.matmul` (and, since keras-team/keras#23225, `add` and `multiply` on
# torch) of two float64 tensors in float32: its result_type("float64", "float64") is
# "float32" on every backend but TensorFlow (keras-team/keras#23704).
_KERAS_WHY = (
    "Keras 3 (3.15.1) computes a float64 LSTMCell in float32: "
    "keras.backend.result_type('float64', 'float64') is 'float32' on every backend "
    "but TensorFlow and ops.matmul casts to it (keras-team/keras#23704); a float64 "
    "run is refused at load (it computes below its declared float64), and a float32 "
    "run fails only the property that runs the cell's float64 copy"
)
_KERAS_FLOAT32 = frozenset({"parameter_gradients_match_finite_differences"})
KERAS_TORCH = Finding(_KERAS_WHY, {"float32": _KERAS_FLOAT32}, refused=frozenset({"float64"}))
KERAS_JAX = Finding(_KERAS_WHY, {"float32": _KERAS_FLOAT32}, refused=frozenset({"float64"}))

_ORT_VALUES = frozenset({"step_values_match_reference", "in_place_weight_edits_take_effect"})
#: Whether the weight-edit property's few steps reach σ's approximation error is up to the
#: draw: with the float32-drawn weights of 2026-12-02 ORT's CIFG cell passed it.
_ORT_VALUES_BY_DRAW = frozenset({"in_place_weight_edits_take_effect"})
_ORT_SIGMA_WHY = (
    "ONNX Runtime's (1.32.0) CPU LSTM kernel evaluates σ and tanh with a fast "
    "rational approximation (clamped to [−18, 18]) whose error is absolute, up "
    "to 1.66e-7 for σ, outside the error model's few ulps relative: the value "
    "comparisons fail by 1e-8 to 5e-8, and the carry slope against the oracle's "
    "f when a draw holds a small f"
)
ORT_SIGMA = Finding(
    _ORT_SIGMA_WHY,
    {"float32": _ORT_VALUES - _ORT_VALUES_BY_DRAW},
    {"float32": _ORT_VALUES_BY_DRAW | {"carry_map_is_affine_in_c"}},
)
#: With peepholes affine-in-c does not apply: only the value comparisons.
ORT_SIGMA_PEEPHOLE = Finding(
    _ORT_SIGMA_WHY, {"float32": _ORT_VALUES - _ORT_VALUES_BY_DRAW}, {"float32": _ORT_VALUES_BY_DRAW}
)
ORT_FORGET_ABOVE_ONE = Finding(
    "ONNX Runtime's forget gate is 1 + 2⁻²³ for z_f in [17.482065, 17.993553] (a carry "
    "slope above 1) and its tanh 1 + 2⁻²² on [8.127, 9.0]; no property fails on it (the "
    "band is almost never drawn, and the bounds properties that would probe it need a "
    "backward)"
)

_TF_V2_WHY = (
    "TensorFlow's (2.21) registered gradient of BlockLSTMV2 is BlockLSTM's "
    "(rnn_grad.py registers one function for both), whose kernel reads the gates in "
    "BlockLSTM's order i, ci, f, o where V2 holds i, f, ci, o: the x, h_prev, w and b "
    "gradients are wrong, the cs_prev gradient is right (so every carry-only property "
    "passes)"
)
TF_BLOCK_V2_GRADIENT = Finding(
    _TF_V2_WHY,
    {
        "float32": frozenset(
            {
                # the h_prev gradient against the oracle's hidden track
                "one_step_vjp_splits_into_carry_and_hidden_tracks",
                # x and h_0 (own precision: no twin), w and b against finite differences
                "input_backward_matches_finite_differences",
                "parameter_gradients_match_finite_differences",
            }
        )
    },
)
QUANTIZED_NO_INPUT_GRADIENT = Finding(
    "torch's (2.13) dynamic-quantized LSTM (torch.ao.nn.quantized.dynamic.LSTM) has no "
    "backward through its int8 matrix products, and backward runs anyway (a UserWarning, "
    "no error): x and h_0 get no gradient (x.grad stays None), and c_0's gradient is the "
    "carry path alone (∂c_T/∂c_0 |carry, exact at T = 1, off by the missing c → h → gates "
    "path beyond: 0.143 against a finite difference of 0.113 in docs/frameworks.md's T = 3 "
    "reproduction); "
    "the adapter declares no autograd, so every derivative property is skipped with that "
    "reason"
)
#: What the dynamic-quantized LSTM lacks: a backward, a float64 copy, a second direction.
QUANTIZED = frozenset({"autograd", "float64_twin", "bidirectional"})
OPENVINO_BF16_DEFAULT = Finding(
    "OpenVINO's (2026.4.1) CPU plugin infers in bf16 by default on a CPU with bf16 "
    "support (AVX-512 BF16, AMX): INFERENCE_PRECISION_HINT is bf16, and a float32 model "
    "computes in bfloat16 (errors ~1e-3), silently; on a CPU without bf16 it computes in "
    "float32 (the self-tests pin the refusal only where the plugin reports bf16)",
    refused=frozenset({"float32", "float64"}),
)
OPENVINO_NO_FLOAT64 = Finding(
    "OpenVINO's CPU plugin has no float64 arithmetic: a float64 model infers in its "
    "inference precision (f32 with INFERENCE_PRECISION_HINT=f32), returning float64 arrays",
    refused=frozenset({"float64"}),
)
_FASTRNNS_FAULTS = frozenset(
    {
        "carry_jacobian_is_diagonal",
        "carry_jacobian_diagonal_equals_forget_gate",
        "carry_jacobian_entries_in_unit_interval",
        "carry_product_is_bounded_and_non_increasing",
        "carry_product_matches_oracle",
        "carry_slope_matches_autograd",
        "open_forget_gate_gives_identity_carry",
        "closed_forget_gate_cuts_the_carry",
        "edge_shapes_keep_a_diagonal_carry_and_the_values",
        "lstm_carry_survives_where_rnn_vanishes",
    }
)
FASTRNNS_CHUNK_BACKWARD = Finding(
    "TorchScript (torch 2.13) differentiates PyTorch's own fastrnns LSTMCell wrongly: from "
    "the graph executor's second run on, a backward in which only c' (or only h') has a "
    "gradient raises inside the differentiable graph ('expected those two sizes to be the "
    "same: 4H, 3H'): the backward of gates.chunk(4, 1) meets undefined gradients for the "
    "chunks that do not reach the output (pytorch/pytorch#54140); the forward is right and "
    "every property differentiating h' and c' together passes. Which properties meet it "
    "follows the graph executor's state, pinned here for the suite's fixed order",
    {"float32": _FASTRNNS_FAULTS, "float64": _FASTRNNS_FAULTS},
)

#: What a fused sequence kernel without a packed call or a second direction lacks.
SEQUENCE_ONLY = frozenset({"packed", "bidirectional"})

_JAX_NIGHTLY = frozenset({"float64"})  # float64 retraces every JAX function under x64
_ALL_NIGHTLY = frozenset(DTYPES)  # the optimized flax cells share their twins' adapter code
_F64 = frozenset({"float64"})

TARGETS: tuple[TargetInfo, ...] = (
    # torch's own and lstm_props.targets (`lstm-props list`), in the order it lists them
    TargetInfo("torch.nn:LSTMCell", lacks=CELL, matrix=True),
    TargetInfo("lstm_props.targets:lstm_cell"),  # the same module as torch.nn:LSTMCell
    # A stack's and a scripted cell's float64 self-test is nightly: the same adapter code and
    # dtype-templated kernels as their float32 run in CI, whose float64 path CI checks on
    # nn.LSTMCell and the reference cells (each of these runs 10-20 s a dtype on 2 cores).
    TargetInfo("lstm_props.targets:lstm", lacks=ONE_DIRECTION, nightly=_F64, matrix=True),
    TargetInfo("lstm_props.targets:lstm_two_layer", lacks=ONE_DIRECTION, nightly=_F64, matrix=True),
    TargetInfo("lstm_props.targets:lstm_proj", lacks=ONE_DIRECTION, nightly=_F64, matrix=True),
    TargetInfo(
        "lstm_props.targets:lstm_bidirectional",
        lacks=frozenset({"unidirectional"}),
        nightly=_F64,
        matrix=True,
    ),
    # four cells: its whole suite runs in the false-alarm sweep only
    TargetInfo("lstm_props.targets:lstm_bidirectional_two_layer"),
    TargetInfo("lstm_props.targets:lstm_no_bias", lacks=ONE_DIRECTION | {"writable"}),
    # int8 weights read back as held, x and h rounded per call (a declared input error)
    TargetInfo(
        "lstm_props.targets:lstm_dynamic_quantized",
        lacks=QUANTIZED,
        findings=(QUANTIZED_NO_INPUT_GRADIENT,),
        matrix=True,
        dtypes=frozenset({"float32"}),
    ),
    # tests/test_torch_configurations.py checks its parameter gradients
    TargetInfo("lstm_props.targets:lstm_cell_frozen"),
    TargetInfo("lstm_props.targets:lstm_cell_scripted", lacks=CELL, nightly=_F64, matrix=True),
    # compiled and exported: minutes a run (a graph, or an export, per drawn size), nightly;
    # the exported cell is a matrix row, the compiled and decomposed ones (18 to 32 times
    # the eager cell's time) run whole only in the nightly self-tests
    TargetInfo("lstm_props.targets:lstm_cell_compiled", lacks=CELL, nightly=frozenset(DTYPES)),
    TargetInfo(
        "lstm_props.targets:lstm_cell_exported",
        lacks=CELL,
        nightly=frozenset(DTYPES),
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.targets:lstm_cell_exported_decomposed", lacks=CELL, nightly=frozenset(DTYPES)
    ),
    TargetInfo(
        "lstm_props.targets:fastrnns_script_lstm_cell",
        lacks=CELL,
        findings=(FASTRNNS_CHUNK_BACKWARD,),
        nightly=_F64,
        matrix=True,
    ),
    TargetInfo("lstm_props.targets:reference_standard", lacks=CELL),
    TargetInfo("lstm_props.targets:reference_no_forget", "no_forget", lacks=CELL),
    TargetInfo("lstm_props.targets:reference_cifg", "cifg", lacks=CELL),
    TargetInfo("lstm_props.targets:reference_peephole", "peephole", lacks=CELL),
    # other frameworks (lstm_props.adapters), in the matrix's order
    TargetInfo(
        "lstm_props.adapters.flax:nnx_lstm_cell",
        package="flax",
        lacks=CELL,
        nightly=_JAX_NIGHTLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.flax:nnx_optimized_lstm_cell",
        package="flax",
        lacks=CELL,
        nightly=_ALL_NIGHTLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.flax:linen_lstm_cell",
        package="flax",
        lacks=CELL,
        nightly=_JAX_NIGHTLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.flax:linen_optimized_lstm_cell",
        package="flax",
        lacks=CELL,
        nightly=_ALL_NIGHTLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.equinox:lstm_cell",
        package="equinox",
        lacks=CELL,
        nightly=_JAX_NIGHTLY,
        matrix=True,
    ),
    # f = σ(z_f + 1) inside the kernel: read as the layout's forget_bias = 1
    TargetInfo(
        "lstm_props.adapters.haiku:lstm",
        package="haiku",
        lacks=CELL,
        nightly=_JAX_NIGHTLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.keras:lstm_cell_torch",
        package="keras",
        env={"KERAS_BACKEND": "torch"},
        findings=(KERAS_TORCH,),
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.keras:lstm_cell_jax",
        package="keras",
        env={"KERAS_BACKEND": "jax"},
        findings=(KERAS_JAX,),
        # the Keras adapter's code is checked per change on torch and TensorFlow; on JAX
        # every example retraces (a minute a run on 2 cores)
        nightly=_ALL_NIGHTLY,
        matrix=True,
    ),
    # on the user's KERAS_BACKEND (else Keras' default): one of the three above or below,
    # whose findings it shares
    TargetInfo("lstm_props.adapters.keras:lstm_cell", package="keras"),
    # float32 only: a float64 run is refused at load, in one line naming why
    TargetInfo(
        "lstm_props.adapters.onnx:lstm",
        package="onnxruntime",
        findings=(ORT_SIGMA, ORT_FORGET_ABOVE_ONE),
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.onnx:lstm_peephole",
        "peephole",
        package="onnxruntime",
        findings=(ORT_SIGMA_PEEPHOLE, ORT_FORGET_ABOVE_ONE),
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.onnx:lstm_input_forget",
        "cifg",
        package="onnxruntime",
        findings=(ORT_SIGMA, ORT_FORGET_ABOVE_ONE),
        matrix=True,
    ),
    # clip=3 keeps every activation's argument where ORT's σ and tanh are accurate
    TargetInfo("lstm_props.adapters.onnx:lstm_clip", package="onnxruntime", matrix=True),
    # torch.onnx.export's graph of nn.LSTM(3, 5): ORT's own LSTM kernel, so ORT's findings
    TargetInfo(
        "lstm_props.adapters.onnx_export:torch_lstm",
        package="onnxscript",
        findings=(ORT_SIGMA, ORT_FORGET_ABOVE_ONE),
        matrix=True,
    ),
    # OpenVINO (the openvino extra): its LSTMCell op on the CPU device, at the plugin's
    # default inference precision and with INFERENCE_PRECISION_HINT=f32; forward only
    TargetInfo(
        "lstm_props.adapters.openvino:lstm_cell",
        package="openvino",
        findings=(OPENVINO_BF16_DEFAULT, OPENVINO_NO_FLOAT64),
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.openvino:lstm_cell_f32",
        package="openvino",
        findings=(OPENVINO_NO_FLOAT64,),
        matrix=True,
    ),
    # TensorFlow (the tensorflow extra): Keras 3 on its TensorFlow backend, TF 1's LSTMCell
    # (float32 and float64), and the fused block kernels (float32 only: a float64 run is
    # refused at load, in one line naming why)
    TargetInfo(
        "lstm_props.adapters.keras:lstm_cell_tensorflow",
        package="tensorflow",
        env={"KERAS_BACKEND": "tensorflow"},
        lacks=CELL,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:compat_v1_lstm_cell",
        package="tensorflow",
        lacks=CELL,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:compat_v1_lstm_cell_peephole",
        "peephole",
        package="tensorflow",
        lacks=CELL,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:compat_v1_lstm_cell_proj",
        package="tensorflow",
        lacks=CELL,
        matrix=True,
    ),
    # TF's default forget_bias=1.0 and cell_clip=1.0: both read back as declared constants
    TargetInfo(
        "lstm_props.adapters.tensorflow:compat_v1_lstm_cell_clip",
        package="tensorflow",
        lacks=CELL | {"unclipped_cell"},
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:block_lstm_cell",
        package="tensorflow",
        lacks=CELL,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:block_lstm_cell_peephole",
        "peephole",
        package="tensorflow",
        lacks=CELL,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:block_lstm",
        package="tensorflow",
        lacks=SEQUENCE_ONLY,
        matrix=True,
    ),
    TargetInfo(
        "lstm_props.adapters.tensorflow:block_lstm_v2",
        package="tensorflow",
        lacks=SEQUENCE_ONLY,
        findings=(TF_BLOCK_V2_GRADIENT,),
        matrix=True,
    ),
    # the self-tests' own correct cells (tests/targets), not installed with the package
    TargetInfo(
        "tests/targets/cells.py:FusedIFOGCell",  # another layout: black-box
        lacks=CELL | BLACK_BOX,
    ),
    # hand-written cells declaring their layout (lstm_layout): checked in full
    TargetInfo("tests/targets/cells.py:PerGateLinearCell", lacks=CELL),  # per_gate, one bias
    # per_gate without biases: read-only, like nn.LSTM(bias=False)
    TargetInfo("tests/targets/cells.py:PerGateNoBiasCell", lacks=CELL | {"writable"}),
    TargetInfo("tests/targets/cells.py:FusedLinearIFOGCell", lacks=CELL),  # fused, i f o g
    TargetInfo("tests/targets/cells.py:StackedTF1Cell", lacks=CELL),  # (D, 4H), i c f o
    TargetInfo("tests/targets/cells.py:DeclaredFusedIFOGCell", lacks=CELL),  # fused (D+H, 4H)
    # f = σ(z_f + 1) inside its forward, declared as lstm_forget_bias = 1.0
    TargetInfo("tests/targets/cells.py:ForgetBiasOneCell", lacks=CELL),
    # c' = clamp(f c + i g, −1, 1), declared as lstm_cell_clip = 1.0
    TargetInfo("tests/targets/cells.py:CellClipCell", lacks=CELL | {"unclipped_cell"}),
    TargetInfo("tests/targets/torch_configs.py:float32_only_lstm_cell"),  # no float64 twin
    # layer norm: Ba et al.'s form (the carried c not normalised), and PyTorch's fastrnns
    # LayerNormLSTMCell (TorchScript, the carried c normalised: the diagonal claims skip)
    TargetInfo("tests/targets/layer_norm_cells.py:BaLayerNormCell", "layer_norm", lacks=CELL),
    TargetInfo(
        "tests/targets/layer_norm_cells.py:FastrnnsLayerNormCell", "layer_norm_cell", lacks=CELL
    ),
)


def target_info(name: str) -> TargetInfo:
    """The record of ``name`` (KeyError if the registry has none)."""
    for info in TARGETS:
        if info.name == name:
            return info
    raise KeyError(name)


#: name -> variant of the built-in targets (``lstm-props list``), in registry order.
BUILTIN = {t.name: t.variant for t in TARGETS if t.builtin}
