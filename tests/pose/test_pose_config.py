"""Stage 1's settings are Stage 1's: the simulation options belong to the video2imu workflow. (Its imports are
checked with the package's other layers by import-linter: ``tests/test_layers.py``.)"""
import dataclasses


def test_stage1_config_holds_no_simulation_setting():
    from imusim_jax.pose import PoseConfig
    from imusim_jax.workflows.video2imu import Video2ImuConfig

    sim = {"mount", "rate_hz", "noise", "seed", "cutoff_hz", "roll"}
    assert not sim & {f.name for f in dataclasses.fields(PoseConfig)}
    assert sim <= {f.name for f in dataclasses.fields(Video2ImuConfig)}
    assert isinstance(Video2ImuConfig(), PoseConfig)  # the workflow passes its config to Stage 1 as it is
