"""Models built on the simulator's signals, installed as ``imusim_jax.models`` (the repository folder
``models/``). ``har``: human-activity recognition on wrist IMU windows (the IMU-Patchformer encoder with
activity, safety and severity heads; training, evaluation, ONNX export). A layer above ``io``: it reads the
dataset builder's shards and uses the core's conventions, and nothing in the core imports it."""
