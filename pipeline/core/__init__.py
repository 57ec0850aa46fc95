"""The pure core: sweep files (config), hyperparameters, data, transforms, models, training, metrics,
the search space and a run's identity (jobs). Plain functions on numpy/pandas/Keras objects; imports neither
Ray, nor MLflow, nor any other part of gatesweep (enforced by import-linter, see pyproject.toml)."""
