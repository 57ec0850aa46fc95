"""The real `mlflow server` the tests start (127.0.0.1, free port, one worker, stopped by pid)."""

from pipeline.mlflow_server import MlflowServer, free_port

__all__ = ["MlflowServer", "free_port"]
