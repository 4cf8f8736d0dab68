"""HAR models in Flax (IMU-Patchformer encoder, safety heads, video+IMU fusion). Planned: this package is a
placeholder until the simulator core and Stage 1 have landed (see the project's issues)."""
