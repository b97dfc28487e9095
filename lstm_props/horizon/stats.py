"""Streaming statistics of a layer's gates over the data: memory independent of T.

Per unit k of a layer, over every sequence b and step t of the data:

* the forget gates f_{t,k}: a pooled histogram on [0, 1]; the timescale
  T_k = −1 / mean_{b,t} log f_{t,k} (Mahto et al. 2021), and per-position timescales
  τ_{t,k} = −1 / log f_{t,k} in a log-binned histogram, whose quantiles give T_k's spread;
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


def span_grid(longest: int, per_decade: int = 10) -> np.ndarray:
    """Spans 1 … ``longest`` spaced geometrically (about ``per_decade`` a decade), integers."""
    if longest < 1:
        return np.zeros(0, dtype=np.int64)
    count = int(np.ceil(per_decade * np.log10(longest))) + 1
    return np.unique(np.round(np.geomspace(1, longest, max(count, 1))).astype(np.int64))


def _bins(values: np.ndarray, low: float, width: float, count: int) -> np.ndarray:
    """Bin index of each value: 0 below ``low``, 1..count inside, count + 1 above."""
    # clipped as floats first: ±∞ cast to an integer is undefined (NaN goes below)
    with np.errstate(invalid="ignore"):
        k = np.clip(np.floor((values - low) / width) + 1, 0, count + 1)
    return np.where(np.isnan(values), 0, k).astype(np.int64)


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
        self._prefix = np.zeros((batch, self.hidden))  # Σ_{τ ≤ t} log d_τ (floored)
        self._starts = np.zeros((self.slots, batch, self.hidden))

    def add(
        self, t0: int, gates: dict[str, np.ndarray], log_forget: np.ndarray, log_carry: np.ndarray
    ) -> None:
        """Steps t0 + 1 … t0 + C of the current batch: gates (C, B, H) by name, log f and
        log d (C, B, H) (log d = log f unless a clip cut the carry: −∞ there)."""
        chunk, batch, h = log_forget.shape
        self.positions += chunk * batch
        self.log_forget_sum += log_forget.sum((0, 1), dtype=np.float64)
        log_carry = np.maximum(log_carry.astype(np.float64), LOG_FLOOR)
        self.log_carry_sum += log_carry.sum((0, 1))
        f = gates["forget"]
        self.forget_sum += f.sum((0, 1), dtype=np.float64)
        self.forget_counts += np.bincount(
            np.minimum((f * FORGET_BINS).astype(np.int64), FORGET_BINS - 1).ravel(),
            minlength=FORGET_BINS,
        )
        for k, name in enumerate(GATES):
            self.saturation_counts[k, 0] += (gates[name] < SATURATION[0]).sum((0, 1))
            self.saturation_counts[k, 1] += (gates[name] > SATURATION[1]).sum((0, 1))
        with np.errstate(divide="ignore"):  # log10 τ = +∞ where f = 1 (log f = ±0)
            log_tau = -np.log10(np.where(log_forget < 0, -log_forget, 0.0))
        self._histogram(
            log_tau.reshape(-1, h), TAU_LOW, TAU_BIN, self.n_tau, self.tau_counts, self.tau_sums
        )
        self._survival(t0, log_carry)

    def _survival(self, t0: int, log_carry: np.ndarray) -> None:
        chunk, g = log_carry.shape[0], len(self.spans)
        # S_{t0} … S_{t0+C}, a running sum row by row (a cumsum along the outer axis runs
        # its inner loop across the rows, several times slower)
        everything = np.empty((chunk + 1, *log_carry.shape[1:]))
        everything[0] = self._prefix
        for t in range(chunk):
            np.add(everything[t], log_carry[t], out=everything[t + 1])
        # the starts s ≡ 0 (mod stride) in [t0, t0 + C): remember S_s
        first = -(-t0 // self.stride) * self.stride
        for s in range(first, t0 + chunk, self.stride):
            self._starts[(s // self.stride) % self.slots] = everything[s - t0]
        values, spans = [], []
        for j, span in enumerate(self.spans):
            # ends t = s + span in (t0, t0 + C] with s a start ≥ 0
            low = max(t0 + 1 - span, 0)
            s0 = -(-low // self.stride) * self.stride
            starts = np.arange(s0, t0 + chunk - span + 1, self.stride)
            if starts.size:
                ends = starts + span - t0  # index into everything
                diff = everything[ends] - self._starts[(starts // self.stride) % self.slots]
                values.append(diff.reshape(-1, self.hidden))
                spans.append(np.full(len(values[-1]), j))
        if values:  # one histogram for every span: unit k, span j is row k·G + j
            rows = np.concatenate(spans)[:, None] + np.arange(self.hidden)[None] * g
            self._histogram(
                np.concatenate(values) / np.log(10.0),
                -SURVIVAL_DECADES,
                SURVIVAL_BIN,
                self.n_survival,
                self.survival_counts.reshape(self.hidden * g, -1),
                self.survival_sums.reshape(self.hidden * g, -1),
                rows,
            )
        self._prefix = everything[-1]

    @staticmethod
    def _histogram(
        values: np.ndarray,
        low: float,
        width: float,
        count: int,
        counts: np.ndarray,
        sums: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> None:
        """Add values (N, H) into the histograms (R, count + 2): value [n, k] into row
        ``rows[n, k]`` (default k: one histogram per unit)."""
        if rows is None:
            rows = np.arange(values.shape[1])[None]
        k = (_bins(values, low, width, count) + rows * (count + 2)).ravel()
        finite = np.where(np.isfinite(values), values, 0.0).ravel()
        size = counts.size
        if k.size >= size // 16:
            counts += np.bincount(k, minlength=size).reshape(counts.shape)
            sums += np.bincount(k, weights=finite, minlength=size).reshape(sums.shape)
            return
        # few values into many bins (B = 1, wide layers): count the bins they hit only, not
        # a histogram-sized array per call
        hit, where = np.unique(k, return_inverse=True)
        counts.reshape(-1)[hit] += np.bincount(where, minlength=hit.size)
        sums.reshape(-1)[hit] += np.bincount(where, weights=finite, minlength=hit.size)
