#!/usr/bin/env python3
# legacy.py: converted from the notebook legacy.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).
#
# Requirements, from the notebook's `pip install` lines (this script does not install them;
# freight installs them into the job's environment):
#   numpy==1.26.4


# %% cell 1 [markdown]
# # A notebook saved by IPython 2 (nbformat v3)


# %% cell 2
# install (see the requirements at the top): !pip install numpy==1.26.4
from pylab import *  # noqa: F403 (what %pylab did)
import numpy as np
values = np.arange(4)


# %% cell 3
print(values.sum())
