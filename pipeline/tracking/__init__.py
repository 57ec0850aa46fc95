"""The tracking side: the MLflow contract's names (`contract`), the one protocol every module takes an MLflow client
as (`client.TrackingClient`), the durable outbox and a sweep's state on disk, and the modules that read and write
MLflow (`mlflow_io`, `tracker`, the hand-over's `ensemble`, `run_model` and `uploads`). Never imports Ray."""
