#!/usr/bin/env python3
# colab_fit.py: converted from the notebook colab_fit.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).
#
# Requirements, from the notebook's `pip install` lines (this script does not install them;
# freight installs them into the job's environment):
#   numpy==1.26.4
#   matplotlib
#
# Colab data paths: map them to where the data is on this machine (or mount it there):
#   /content/drive/MyDrive/freight-demo/measurements.csv

import os
import subprocess
import sys

sys.stdout.reconfigure(line_buffering=True)  # keeps print() and commands in order in a log


# %% cell 1 [markdown]
# # Fit a line, Colab style
#
# A small notebook written the way Colab notebooks are: `!pip install`, Google Drive,
# magics. `freight convert colab_fit.ipynb -o fit.py` turns it into a plain script.


# %% cell 2
# install (see the requirements at the top): !pip install -q numpy==1.26.4 matplotlib
# IPython only: %matplotlib inline


# %% cell 3
# Colab only: from google.colab import drive
# Colab only: drive.mount('/content/drive')


# %% cell 4
import json
import os

import numpy as np

DATA = "/content/drive/MyDrive/freight-demo/measurements.csv"
os.environ["OMP_NUM_THREADS"] = "1"


# %% cell 5 [markdown]
# Load the measurements from Drive. Where there is no Drive (a cluster node, a test), generate them.


# %% cell 6
if os.path.exists(DATA):
    x, y = np.loadtxt(DATA, delimiter=",", unpack=True)
else:
    print("no Drive data here: using generated measurements")
    x = np.linspace(0.0, 10.0, 101)
    y = 3.0 * x + 2.0 + 0.1 * np.sin(7.0 * x)
subprocess.run(["echo", "measurements:", f"{len(x)}", "points"], check=True)


# %% cell 7
slope, intercept = np.polyfit(x, y, 1)  # was %time: runs once, untimed
print(f"slope {slope:.2f} intercept {intercept:.2f}")


# %% cell 8
os.makedirs("outputs", exist_ok=True)
with open("outputs/fit.json", "w") as f:
    json.dump({"slope": round(slope, 3), "intercept": round(intercept, 3), "points": len(x)}, f)
subprocess.run(["ls", "outputs"], check=True)
