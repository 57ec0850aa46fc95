"""A phase whose driver died after Tune wrote `tuner.pkl` but before it created any trial (CI caught a SIGKILL
there, as a confirm round started): `restore_phase` must bring back the phase's own jobs. Real Ray and Tune;
the trainable only echoes its job, so no TensorFlow is started."""
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import load_spec
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.engine import tuning

SPACE = Path(__file__).parents[2] / "data" / "valid" / "rounds.yaml"


def _echo(config: dict[str, Any]) -> None:
    from ray import tune

    job = Job.from_config(config)
    tune.report({tuning.METRIC: 1.0, "final": True, "key": job.key})


class _KilledBeforeTrials(Exception):
    pass


def test_a_phase_killed_before_its_trials_existed_restores_with_its_own_jobs(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import ray
    from ray import tune

    spec = load_spec(SPACE)
    best = {(ds, arch): [(HParams.of(arch, spec.space_for(ds).fixed()), None)] for ds, arch in spec.cells()}
    jobs = tuning.confirm_jobs(spec, best, round_=2, datasets=["nile"])
    monkeypatch.setattr(tuning, "_resourced_trainable", lambda spec, series: _echo)

    def killed(self: Any) -> None:  # the Tuner is built (tuner.pkl written), then the driver dies
        raise _KilledBeforeTrials

    with monkeypatch.context() as m:
        m.setattr(tune.Tuner, "fit", killed)
        with pytest.raises(_KilledBeforeTrials):
            tuning.run_phase(spec, {}, storage=tmp_path, name="rounds-confirm-r2-x", callbacks=[], jobs=jobs)
    path = tmp_path / "rounds-confirm-r2-x"
    assert tuning.can_restore(path)

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        results = tuning.restore_phase(spec, {}, path, jobs)
    finally:
        ray.shutdown()
    finished = tuning.finished_results(results)
    assert sorted(run.job.key for run in finished) == sorted(job.key for job in jobs)
    assert {run.status for run in finished} == {"FINISHED"}
    assert {run.metrics.val_mase for run in finished if run.metrics} == {1.0}  # the echo's score, typed
