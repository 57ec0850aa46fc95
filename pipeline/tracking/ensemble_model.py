"""The pyfunc model's code (MLflow's models-from-code): `mlflow.pyfunc.load_model` runs this file instead of
unpickling anything."""

from mlflow.models import set_model

from pipeline.tracking.ensemble import EnsembleForecaster

set_model(EnsembleForecaster())
