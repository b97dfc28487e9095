"""The gate (private): the pytest plugin, the ``lstm-props`` command and what it runs
(results, verdict, root cause, matrix, selftest, bench, ``check --steps``)."""
