"""The lstm_props property library: one module per family of claims.

Run with ``pytest properties --lstm-adapter TARGET``. Every property receives ``lstm`` (one
layer view of the target plus the run's declarations), skips with a reason when the target
lacks a capability, and raises PropertyFailure with the step, coordinate, expected and got.
"""
