"""Streaming statistics of a layer's gates over the data: memory independent of T.

Per unit k of a layer, over every sequence b and step t of the data:

* the forget gates f_{t,k}: a pooled histogram on [0, 1]; the timescale
  T_k = −1 / mean_{b,t} log f_{t,k} (Mahto et al. 2021), and per-position timescales
  τ_{t,k} = −1 / log f_{t,k} at the steps after the survival's start positions (below) in a
  log-binned histogram, whose quantiles give T_k's spread;
* the saturation fractions of the input, forget and output gates: the share of steps below
  0.1 and above 0.9 (Karpathy et al. 2015);
* the carry-path survival log10 ∏_{t=s+1}^{s+Δ} d_t (d_t = f_t, cut to 0 where a cell clip
  clamps), for each span Δ of a geometric grid, over start positions s: a histogram per
  (unit, Δ) whose bins also sum their values, so a quantile is the mean of the values in its
  bin: within one bin width (0.05 decades) of the exact order statistic, and exact when the
  bin's values are equal (a constant gate). Starts are taken every ``stride`` steps, at most
  STARTS_PER_SPAN of them alive at once, so the work and memory are O(B·H·grid) per step
  whatever T.

Sums of log d are kept in float64 from a floor of LOG_FLOOR per step (a gate at exactly 0
would make every later difference of prefix sums NaN); the floor is far below the survival
histogram's lowest bin, so it changes no reported figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lstm_props.horizon.gates import ChunkGates

#: The survival histogram covers log10 survival in [−SURVIVAL_DECADES, 0] in bins of
#: SURVIVAL_BIN decades, plus one bin below (underflowed past it, or cut to 0).
SURVIVAL_DECADES = 12.0
SURVIVAL_BIN = 0.05
#: Per-position timescales τ = −1/log f, log10 τ in [TAU_LOW, TAU_HIGH] by TAU_BIN decades,
#: plus a bin below and one above (τ = ∞: f = 1 exactly).
TAU_LOW, TAU_HIGH, TAU_BIN = -1.0, 9.0, 0.05
FORGET_BINS = 50
SATURATION = (0.1, 0.9)
#: Start positions alive at once: the stride is Δ_max / STARTS_PER_SPAN.
STARTS_PER_SPAN = 32
LOG_FLOOR = -1000.0
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
GATES = ("input", "forget", "output")
#: σ(ℓ) < 0.1 ⟺ ℓ < log(0.1/0.9), σ(ℓ) > 0.9 ⟺ ℓ > log(0.9/0.1)
_LOGIT_LOW = float(np.log(SATURATION[0] / (1 - SATURATION[0])))
_LOGIT_HIGH = float(np.log(SATURATION[1] / (1 - SATURATION[1])))


def span_grid(longest: int, per_decade: int = 10) -> np.ndarray:
    """Spans 1 … ``longest`` spaced geometrically (about ``per_decade`` a decade), integers."""
    if longest < 1:
        return np.zeros(0, dtype=np.int64)
    count = int(np.ceil(per_decade * np.log10(longest))) + 1
    return np.unique(np.round(np.geomspace(1, longest, max(count, 1))).astype(np.int64))


def histogram_quantile(
    counts: np.ndarray, sums: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """(value, bin) of the q-quantile of each row of a binned histogram (last axis: bins):
    the mean of the values in the bin holding it; NaN where a row is empty. The caller reads
    the end bins (below and above the range) by their index."""
    total = counts.sum(-1, keepdims=True)
    cum = np.cumsum(counts, -1)
    # the first bin whose cumulative count reaches q·N (at least the first sample)
    k = np.argmax(cum >= np.maximum(q * total, 1), axis=-1)[..., None]
    n = np.take_along_axis(counts, k, -1)[..., 0]
    s = np.take_along_axis(sums, k, -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[..., 0] > 0, s / np.maximum(n, 1), np.nan), k[..., 0]


@dataclass
class LayerStats:
    """What is accumulated for one layer of ``hidden`` units (see the module docstring)."""

    hidden: int
    spans: np.ndarray
    stride: int
    positions: int = 0  # steps × sequences seen
    log_forget_sum: np.ndarray = field(init=False)
    log_carry_sum: np.ndarray = field(init=False)
    forget_sum: np.ndarray = field(init=False)
    forget_counts: np.ndarray = field(init=False)
    tau_counts: np.ndarray = field(init=False)
    tau_sums: np.ndarray = field(init=False)
    saturation_counts: np.ndarray = field(init=False)
    survival_counts: np.ndarray = field(init=False)
    survival_sums: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        h, g = self.hidden, len(self.spans)
        self.n_survival = round(SURVIVAL_DECADES / SURVIVAL_BIN)
        self.n_tau = round((TAU_HIGH - TAU_LOW) / TAU_BIN)
        self.log_forget_sum = np.zeros(h)
        self.log_carry_sum = np.zeros(h)
        self.forget_sum = np.zeros(h)
        self.forget_counts = np.zeros(FORGET_BINS, dtype=np.int64)
        self.tau_counts = np.zeros((h, self.n_tau + 2), dtype=np.int64)
        self.tau_sums = np.zeros((h, self.n_tau + 2))
        self.saturation_counts = np.zeros((len(GATES), 2, h), dtype=np.int64)
        self.survival_counts = np.zeros((h, g, self.n_survival + 2), dtype=np.int64)
        self.survival_sums = np.zeros((h, g, self.n_survival + 2))
        self.slots = int(np.ceil(int(self.spans.max(initial=0)) / self.stride)) + 1
        self._batch = 0

    # -- one batch of sequences at a time -----------------------------------------------------
    def begin(self, batch: int) -> None:
        """A new batch of ``batch`` independent sequences, from step 0."""
        self._batch = batch
        self._prefix = torch.zeros((batch, self.hidden), dtype=torch.float64)  # Σ log d (floored)
        self._starts = torch.zeros((self.slots, batch, self.hidden), dtype=torch.float64)

    @torch.no_grad()
    def add(self, t0: int, chunk: ChunkGates) -> None:
        """Steps t0 + 1 … t0 + C of the current batch (lstm_props.horizon.gates).

        Torch tensors, so that every elementwise pass runs on the threads torch was given
        (NumPy's run on one), and few of them: the saturation and the forget histogram are
        read off the gates' logits (σ(ℓ) < 0.1 ⟺ ℓ < −log 9), no activation evaluated."""
        log_forget = chunk.log_forget
        steps, batch, h = log_forget.shape
        self.positions += steps * batch
        self.log_forget_sum += _sum(log_forget)
        log_carry = log_forget if chunk.log_carry is None else chunk.log_carry
        log_carry = log_carry.clamp(min=LOG_FLOOR)
        self.log_carry_sum += _sum(log_carry)
        f = log_forget.exp()
        self.forget_sum += _sum(f)
        bins = f.mul_(FORGET_BINS).to(torch.int64).clamp_(max=FORGET_BINS - 1).reshape(-1)
        self.forget_counts += torch.bincount(bins, minlength=FORGET_BINS).numpy()
        for k, name in enumerate(GATES):
            logit = chunk.logits[name]
            self.saturation_counts[k, 0] += _count(_LOGIT_LOW - logit)
            self.saturation_counts[k, 1] += _count(logit - _LOGIT_HIGH)
        # τ at the steps s + 1 after each start s (every stride-th step, as the survival):
        # log10 τ = −log10(−log f), +∞ where f = 1 (log f = ±0), the bin above the range
        first = -(-t0 // self.stride) * self.stride - t0
        sampled = log_forget[first :: self.stride]
        if len(sampled):
            log_tau = (-sampled).log10_().neg_()
            self._histogram(
                log_tau.reshape(-1, h), TAU_LOW, TAU_BIN, self.tau_counts, self.tau_sums
            )
        self._survival(t0, log_carry)

    def _survival(self, t0: int, log_carry: torch.Tensor) -> None:
        chunk, g = log_carry.shape[0], len(self.spans)
        # S_{t0} … S_{t0+C} in float64, a running sum row by row from the previous chunk's
        # end (a cumsum along the outer axis runs its inner loop across the rows: slower)
        everything = torch.empty((chunk + 1, *log_carry.shape[1:]), dtype=torch.float64)
        everything[0] = self._prefix
        for t in range(chunk):
            torch.add(everything[t], log_carry[t], out=everything[t + 1])
        # the starts s ≡ 0 (mod stride) in [t0, t0 + C): remember S_s
        first = -(-t0 // self.stride) * self.stride
        for s in range(first, t0 + chunk, self.stride):
            self._starts[(s // self.stride) % self.slots] = everything[s - t0]
        values, spans = [], []
        for j, span in enumerate(self.spans):
            # ends t = s + span in (t0, t0 + C] with s a start ≥ 0
            low = max(t0 + 1 - int(span), 0)
            s0 = -(-low // self.stride) * self.stride
            starts = np.arange(s0, t0 + chunk - int(span) + 1, self.stride)
            if starts.size:
                ends = torch.from_numpy(starts + int(span) - t0)  # index into everything
                slots = torch.from_numpy((starts // self.stride) % self.slots)
                values.append((everything[ends] - self._starts[slots]).reshape(-1, self.hidden))
                spans.append(torch.full((len(values[-1]), 1), j, dtype=torch.int64))
        if values:  # one histogram for every span: unit k, span j is row k·G + j
            rows = torch.cat(spans) + torch.arange(self.hidden)[None] * g
            self._histogram(
                torch.cat(values).div_(np.log(10.0)),
                -SURVIVAL_DECADES,
                SURVIVAL_BIN,
                self.survival_counts.reshape(self.hidden * g, -1),
                self.survival_sums.reshape(self.hidden * g, -1),
                rows,
            )
        self._prefix = everything[-1].clone()

    @staticmethod
    def _histogram(
        values: torch.Tensor,
        low: float,
        width: float,
        counts: np.ndarray,
        sums: np.ndarray,
        rows: torch.Tensor | None = None,
    ) -> None:
        """Add values (N, H) into the histograms (R, count + 2) (in place, NumPy): value
        [n, k] into row ``rows[n, k]`` (default k: one histogram per unit); bin 0 below
        ``low`` (−∞ and NaN too), 1..count inside by ``width``, count + 1 above (+∞)."""
        count = counts.shape[-1] - 2
        if rows is None:
            rows = torch.arange(values.shape[1])[None]
        k = torch.nan_to_num(values, nan=-torch.inf).sub(low).div_(width).floor_()
        k = k.add_(1).clamp_(0, count + 1).to(torch.int64).add_(rows * (count + 2)).reshape(-1)
        finite = torch.nan_to_num(values.to(torch.float64), nan=0.0, posinf=0.0, neginf=0.0)
        size = counts.size
        if k.numel() >= size // 16:
            counts += torch.bincount(k, minlength=size).numpy().reshape(counts.shape)
            sums += (
                torch.bincount(k, finite.reshape(-1), minlength=size).numpy().reshape(sums.shape)
            )
            return
        # few values into many bins (B = 1, wide layers): count the bins they hit only, not
        # a histogram-sized array per call
        hit, where = torch.unique(k, return_inverse=True)
        counts.reshape(-1)[hit.numpy()] += torch.bincount(where, minlength=hit.numel()).numpy()
        sums.reshape(-1)[hit.numpy()] += torch.bincount(
            where, finite.reshape(-1), minlength=hit.numel()
        ).numpy()


def _sum(values: torch.Tensor) -> np.ndarray:
    """Σ over steps and sequences, per unit, accumulated in float64 (converted first: a
    float64 accumulation of float32 values is four times slower than this)."""
    return values.to(torch.float64).sum((0, 1)).numpy()


#: Turns the smallest gap between distinct floats near a saturation threshold into ≥ 1.
_STEP = 2.0**100


def _count(margin: torch.Tensor) -> np.ndarray:
    """How many entries of ``margin`` (a logit minus a threshold ±log 9) are > 0, per unit:
    Σ clamp(margin · 2¹⁰⁰, 0, 1), which is 1[margin > 0] exactly (near |ℓ| = log 9 ≈ 2.2
    distinct float32 values differ by 2⁻²² at least, float64 ones by 2⁻⁵¹; far from it the
    product overflows to ±∞ and clamps to 1 or 0), and its float32 sum is exact below 2²⁴
    entries. A comparison's boolean tensor and its sum cost four times as much."""
    if margin.shape[0] * margin.shape[1] >= 2**24:
        raise ValueError(f"a chunk of {margin.shape[:2]} rows: too many for an exact count")
    return margin.mul_(_STEP).clamp_(0.0, 1.0).sum((0, 1)).to(torch.int64).numpy()
