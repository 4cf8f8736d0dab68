"""The ``imusim-jax`` command line: one module per command, the options they share declared once
(``_options``), one-line errors (``_app.main``).

  imusim-jax simulate INPUT --mount watch-left --rate 50 --noise none|<preset>|profile.json --seed 0 -o OUT
  imusim-jax simulate --trajectory FILE.csv --mount body -o OUT
  imusim-jax batch INPUTS... --out-dir DIR [--format csv|npz|parquet] [simulate's options]
  imusim-jax video2imu VIDEO --pose mediapipe|vitpose [simulate's options] -o OUTDIR
  imusim-jax calibrate --real PATH --mode stationary|paired|unpaired [--motion PATH] -o profile.json
  imusim-jax build-dataset manifest.yaml -o DATASET_DIR [--workers N] [--engine local|ray]
  imusim-jax dataset-card DATASET_DIR [-o OUT_DIR] [--examples N]
  imusim-jax train --data DATASET_DIR -o RUN_DIR [--filter COLUMN=VALUE[,VALUE...]]... [--label activity]
  imusim-jax evaluate RUN_DIR|model.onnx --data DATASET_DIR [--filter ...] --json metrics.json [--plot cm.png]
  imusim-jax weights fetch NAME | list | verify
  imusim-jax noise bmi160 [-o profile.json]
  imusim-jax mounts [NAME -o mount.json] [--plot mounts.png]
  imusim-jax sample -o fall.npz

Bad input exits with status 2 and one line on stderr (``error: ...``); set ``IMUSIM_DEBUG=1`` for tracebacks.
"""
# each module adds its command, in the order --help lists them
from imusim_jax.cli import simulate, batch, video2imu, calibrate, dataset, har, profiles, weights  # noqa: F401, I001
from imusim_jax.cli._app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    import sys

    sys.exit(main())
