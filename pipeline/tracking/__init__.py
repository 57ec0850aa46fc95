"""The tracking side: the MLflow contract's names (`contract`), the durable outbox and a sweep's state on
disk, and the only modules that import MLflow (`mlflow_io`, `tracker`). Never imports Ray."""
