"""The harness (private): load a target, wrap it in checked calls, draw cases, declare
properties and turn a violated claim into one readable failure."""
