"""Array type aliases used in public signatures (one place, as diffrax keeps them).

Axis names: ``clip`` (batch of clips, leading), ``time`` (frames or samples), ``joint``. Units are given in each
function's docstring; inside the library everything is SI (s, m, m/s^2, rad/s).
"""
from __future__ import annotations

from typing import Union

import jax
import numpy as np
from jaxtyping import Array, Bool, Float, Int

ArrayLike = Union[jax.Array, np.ndarray]

Scalar = Float[Array, ""]
Vec3 = Float[Array, "*batch 3"]
Quat = Float[Array, "*batch 4"]
"""Unit quaternion, scalar first (w, x, y, z), Hamilton product."""
Mat3 = Float[Array, "*batch 3 3"]
Joints = Float[Array, "*clip time joint 3"]
"""Joint positions in metres, z-up world frame."""
Signal3 = Float[Array, "*clip time 3"]
Mask = Bool[Array, "*clip time"]
Lengths = Int[Array, "*clip"]

__all__ = ["Array", "ArrayLike", "Bool", "Float", "Int", "Scalar", "Vec3", "Quat", "Mat3", "Joints", "Signal3",
           "Mask", "Lengths"]
