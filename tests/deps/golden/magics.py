#!/usr/bin/env python3
# magics.py: converted from the notebook magics.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).

from __future__ import annotations

import os
import subprocess
import sys

sys.stdout.reconfigure(line_buffering=True)  # keeps print() and commands in order in a log

display = print  # IPython's display(); a notebook has it built in, plain python does not


# %% cell 1
# (moved to the top) from __future__ import annotations
# IPython only: %load_ext autoreload
# IPython only: %autoreload 2
# IPython only: %matplotlib inline
# IPython only: %config InlineBackend.figure_format = 'retina'


# %% cell 2 [markdown]
# ## Environment and folders


# %% cell 3
os.environ["OMP_NUM_THREADS"] = "4"
os.environ["WANDB_MODE"] = "offline"
# IPython only (prints): %env HOME
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.chdir("/tmp")
os.chdir(os.path.expanduser(os.path.expandvars("~/my data")))
os.chdir(f"{workdir}")
here = os.getcwd()
print(os.getcwd())


# %% cell 4
import numpy as np
total = np.arange(10).sum()  # was %time: runs once, untimed
np.arange(10).sum()  # was %timeit: runs once, untimed
result = None  # dropped: result = %timeit -o np.zeros(3)
# %run: runs in its own process here; names it defines are not shared
subprocess.run([sys.executable, "helpers.py", "--fast"], check=True)
# IPython help dropped: np.arange?
# IPython help dropped: ??np.zeros
display(total)


# %% cell 5
# IPython only: get_ipython().run_line_magic('matplotlib', 'inline')
if True:
    pass  # IPython only: get_ipython().system('nvidia-smi')
# Colab only: %tensorflow_version 2.x
# dropped: %reset -f
# IPython only: %who_ls
from pylab import *  # noqa: F403 (what %pylab did)


# %% cell 8
def show(x):
    y = x * 2  # was %time: runs once, untimed
    subprocess.run(["echo", f"{y}"], check=True)
    return y

text = """
!this is text, not a shell line
%neither is this
"""
remainder = (10
%3)
