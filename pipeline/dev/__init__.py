"""Developer tools behind `gatesweep bench`: benchmarks and a local `mlflow server` for them and the tests.

Nothing on a sweep's runtime path imports this package.
"""
