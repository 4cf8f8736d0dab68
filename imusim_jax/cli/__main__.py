import sys

from imusim_jax.cli import main

sys.exit(main())
