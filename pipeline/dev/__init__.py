"""Developer tools behind `gatesweep bench`: benchmarks and a local `mlflow server` for them and the tests.

Nothing on a sweep's runtime path imports this package; only the console entry point (`pipeline.main`)
reaches it, to add `bench` to the command line.
"""
