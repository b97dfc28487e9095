"""The framework-neutral adapter contract.

The minimum an implementation gives is ``step(x, h, c) -> (h', c')`` on its own arrays,
shapes (B, D), (B, P), (B, H) -> (B, P), (B, H). Everything else is an optional capability
that unlocks more properties; a property whose capability is missing is skipped, with the
reason, never passed.

Nothing here imports torch: a JAX, Keras or ONNX Runtime adapter implements the same two
classes with its own arrays and its own autodiff.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.precision import round_to, storage

Array = Any  # an array of the implementation's own framework


class Backend(ABC):
    """Array conversion and (optionally) reverse-mode autodiff for one framework."""

    #: The precision the implementation computes in: "float32", "float64", "float16",
    #: "bfloat16", or a declared mixed one, "bfloat16+float32" (maths.precision).
    dtype: str
    #: Where the implementation runs ("cpu", "cuda", ...).
    device: str = "cpu"
    #: Whether it runs float16, bfloat16 and the mixed precisions (torch's does).
    half_precision: bool = False
    #: Whether :meth:`vjp` is available.
    autograd: bool = False
    #: Whether the same computation always gives the same bits (False: the determinism
    #: property allows the summation-reordering bound instead).
    deterministic: bool = True

    @abstractmethod
    def asarray(self, a: np.ndarray) -> Array:
        """A float64 NumPy array -> the framework's array in ``dtype`` on ``device``."""

    @abstractmethod
    def to_numpy(self, a: Array) -> np.ndarray:
        """The framework's array -> float64 NumPy array (a copy)."""

    def vjp(
        self,
        fn: Callable[..., Sequence[Array]],
        primals: Sequence[np.ndarray],
        cotangents: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        """Σ_k ū_kᵀ ∂fn_k/∂primal_j for every primal j, through the framework's own backward.

        ``fn`` takes framework arrays and returns a sequence of them; an output that does not
        depend on a primal contributes zeros.
        """
        raise NotImplementedError(f"{type(self).__name__} has no autograd")

    def is_concrete(self, a: Array) -> bool:
        """False for an array being traced by the framework's own autodiff or compiler (a JAX
        tracer), whose values cannot be read; the suite then checks them where it can."""
        return True

    def all_finite(self, a: Array) -> bool:
        """Whether every entry of ``a`` is finite (the suite checks every output it is
        given). The default reads ``a`` through :meth:`to_numpy`; override it where the
        framework can answer without the float64 copy (torch's ``isfinite``)."""
        return bool(np.all(np.isfinite(self.to_numpy(a))))

    def stop_gradient(self, a: Array) -> Array:
        """``a``'s value with no derivative flowing back through it (teacher forcing).

        The default round-trips through NumPy, which is exact; override it with the
        framework's own (``detach``, ``jax.lax.stop_gradient``) to avoid the copy.
        """
        return self.asarray(self.to_numpy(a))

    def no_grad(self) -> AbstractContextManager[None]:
        """A context in which the implementation runs forward only, recording nothing for a
        backward (a measurement's plain forward pass). The default does nothing; torch's is
        ``torch.no_grad()``."""
        return nullcontext()

    def vjp_rows(
        self,
        fn: Callable[..., Sequence[Array]],
        primals: Sequence[np.ndarray],
        cotangent_rows: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        """:meth:`vjp` for K cotangents at once: each of ``cotangent_rows`` has a leading axis
        of K; each result has shape (K, *primal.shape). With one-hot rows this is a Jacobian.

        The default runs :meth:`vjp` K times; override it where the framework can batch the
        backward (torch's ``is_grads_batched``, ``jax.vmap`` over ``jax.vjp``).
        """
        k = len(cotangent_rows[0])
        rows = [self.vjp(fn, primals, [u[i] for u in cotangent_rows]) for i in range(k)]
        return tuple(np.stack([r[j] for r in rows]) for j in range(len(primals)))

    @property
    def np_dtype(self) -> type:
        """The NumPy dtype a host array of :attr:`array_dtype` is held in: float16 as
        itself, bfloat16 (which NumPy lacks) in float32. Round with :meth:`rounded`, not by a
        cast to this: a cast to float32 does not round to bfloat16."""
        name = self.array_dtype
        return {"float16": np.float16, "float32": np.float32, "bfloat16": np.float32}.get(
            name, np.float64
        )

    @property
    def array_dtype(self) -> str:
        """The name of the dtype of the framework arrays this backend makes and the
        implementation returns (the storage format, unless a backend says otherwise)."""
        return storage(self.dtype)

    def rounded(self, a: np.ndarray | float) -> np.ndarray:
        """``a`` rounded to :attr:`array_dtype`, as a float64 copy: what the implementation
        holds once given ``a`` (maths.precision.round_to). An autocast module's arrays are
        float32 (it rounds inside, as its declared mixed precision says), a bfloat16
        module's bfloat16."""
        return round_to(a, self.array_dtype)


@dataclass(frozen=True)
class CellSpec:
    """Sizes of a cell: x is (B, input_size), h is (B, output_size), c is (B, hidden_size)."""

    input_size: int
    hidden_size: int
    output_size: int


class CellAdapter(ABC):
    """One LSTM layer seen as a step function, plus optional capabilities.

    Subclass this for a new framework or kernel: implement :meth:`step` (and ``spec``,
    ``backend``); override the capability methods your implementation supports.
    """

    name: str = "cell"
    spec: CellSpec
    backend: Backend
    #: The variant the implementation declares (None: let the user's declaration decide).
    variant: str | None = None

    @abstractmethod
    def step(self, x: Array, h: Array, c: Array) -> tuple[Array, Array]:
        """One step: (x_t, h_{t-1}, c_{t-1}) -> (h_t, c_t)."""

    # -- capability: the documented parameter layout (oracle gates, forcing gates) ---------
    def read_layout(self) -> LSTMParams | None:
        """The parameters in the documented layout (float64), or None in black-box mode."""
        return None

    @property
    def writable_layout(self) -> bool:
        return False

    def write_layout(self, params: LSTMParams) -> None:
        """Write parameters in the documented layout in place (takes effect on the next step)."""
        raise NotImplementedError

    @property
    def same_call_key(self) -> Hashable | None:
        """Layer views with equal keys (not None) make the same call with the same sizes, and
        every case writes its own drawn weights into them: a property on the second repeats
        the first's on other draws, and the plugin runs the first alone (``nn.LSTM``'s
        layers 1.. of one width call layer 0's kernel). None: a computation of its own."""
        return None

    def gate_input(self, x: np.ndarray) -> np.ndarray:
        """The input the layer's gates read for step input x (x itself for a single layer)."""
        return x

    # -- capability: a fused sequence call ---------------------------------------------------
    @property
    def has_sequence(self) -> bool:
        return False

    def sequence(self, xs: Array, h0: Array, c0: Array) -> tuple[Array, Array, Array]:
        """Run T steps in one call: xs (T, B, D) -> (ys (T, B, P), h_T, c_T)."""
        raise NotImplementedError

    # -- capability: one layer of a stack over a sequence of its own inputs (measurements) ----
    @property
    def has_layer_sequence(self) -> bool:
        return False

    def layer_sequence(self, xs: Array, h0: Array, c0: Array) -> tuple[Array, Array, Array]:
        """This layer alone over T steps of its own input (the layer below's outputs), in the
        kernel the model's forward uses: xs (T, B, D) -> (ys (T, B, P), h_T, c_T). Used by
        measurements that walk a stack layer by layer (``lstm-props horizon``); the
        properties never call it."""
        raise NotImplementedError

    #: Directions of a fused sequence call: 2 for a bidirectional stack, whose ys are
    #: (T, B, 2·P_top), forward half first; its single step is then not the sequence's.
    directions: int = 1

    # -- capability: variable-length (packed) batches ------------------------------------------
    @property
    def has_packed(self) -> bool:
        return False

    def packed_sequence(
        self, xs: Array, lengths: Sequence[int], h0: Array, c0: Array
    ) -> tuple[Array, Array, Array]:
        """Run rows of different lengths in one call: xs (T, B, D) zero-padded past
        lengths[b] -> (ys (T, B, P), h (B, P), c (B, H)) with h, c each row's last valid
        state; ys past a row's length are unspecified."""
        raise NotImplementedError

    # -- capability: parameter gradients -----------------------------------------------------
    def parameter_vjp(
        self, run: Callable[[], Sequence[Array]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams | None:
        """ūᵀ ∂run()/∂θ in the documented layout (float64), where ``run`` calls this
        adapter's step; None when the framework's parameter gradients are out of reach."""
        return None

    # -- capability: another precision ---------------------------------------------------------
    def astype(self, dtype: str) -> CellAdapter | None:
        """The same implementation computing in ``dtype``, or None if unsupported."""
        return None

    def to_device(self, device: str) -> CellAdapter | None:
        """A copy of the implementation, same weights, running on ``device``, or None."""
        return None

    # -- capability: derivatives with respect to the states alone --------------------------
    def frozen_parameters(self) -> AbstractContextManager[None]:
        """Within it, the parameters are constants to the framework's autodiff (a backward
        then records and computes no weight gradients: a derivative with respect to the
        states alone costs elementwise work only). Default: no change."""
        return nullcontext()

    # -- multi-layer context -----------------------------------------------------------------
    def set_context(self, h_all: np.ndarray, c_all: np.ndarray) -> None:
        """Fix the states of the other layers of a stack (no-op for a single layer)."""
        return None


class Views(NamedTuple):
    """A built implementation: one view per layer, and the whole stack as one cell.

    For a stack of L layers the stack view's state is the layers' states concatenated along
    features, (B, L·P) and (B, L·H); its carry Jacobian is block lower-triangular, so only the
    layer views are held to the diagonal claims.
    """

    layers: list[CellAdapter]
    stack: CellAdapter


class Target(ABC):
    """What a target string resolves to: something that builds :class:`Views`."""

    name: str
    #: Whether input and hidden sizes may be drawn per example.
    sized: bool = False
    num_layers: int = 1
    min_hidden_size: int = 1

    @abstractmethod
    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        """Build (or reuse) the implementation; sizes are None for a fixed-size target."""

    def probe(self) -> Views:
        """Views at small sizes, to read the target's structure and capabilities.

        Built once and kept: every property's capability check and the report header read
        it, and a sized target would otherwise build a new module each time.
        """
        views = self.__dict__.get("_probe_views")
        if views is None:
            views = self.build(3, max(4, self.min_hidden_size)) if self.sized else self.build()
            self._probe_views = views
        return views
