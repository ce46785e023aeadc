"""The sections of benchmarks/bench.py, one module each.

Each module has ``run(...)``, which measures and returns the section's JSON record
(bench.py runs it through ``harness.section``), and ``rows(record)``, its lines of
the printed table (none when the section did not run or failed). They import the
assistant package lazily, inside functions, as the product's commands do: a scale
worker's RSS then counts what that worker uses, not every section's imports.
"""
