#!/usr/bin/env python3
# cell_magics.py: converted from the notebook cell_magics.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).
#
# Requirements, from the notebook's `pip install` lines (this script does not install them;
# freight installs them into the job's environment):
#   einops

import subprocess
import sys

sys.stdout.reconfigure(line_buffering=True)  # keeps print() and commands in order in a log


# %% cell 1
# %%bash
subprocess.run(["bash", "-c", """\
set -e
for f in *.txt; do
  echo "$f"
done
"""], check=True)


# %% cell 2
# %%sh
subprocess.run(["sh", "-c", """\
echo plain sh
"""], check=True)


# %% cell 3
# %%script bash
subprocess.run(["bash", "-c", """\
echo via script
"""], check=True)


# %% cell 4
# %%writefile train.py
with open("train.py", "w", encoding="utf-8") as file:
    file.write("""\
import sys
print("training", sys.argv[1:])
""")


# %% cell 5
# %%writefile -a log.txt
with open("log.txt", "a", encoding="utf-8") as file:
    file.write("line with a \\ backslash and \"\"\"quotes\"\"\"\n")


# %% cell 6
# %%capture: IPython cell magic; its body runs as plain code
import numpy as np
# install (see the requirements at the top): !pip install -q einops


# %% cell 7
# %%capture out: IPython cell magic; its body runs as plain code
print('hidden')


# %% cell 8

# %%time: IPython cell magic; its body runs as plain code
squares = [i * i for i in range(10)]
total = sum(squares)  # was %time: runs once, untimed


# %% cell 9
# %%timeit -n 2: IPython cell magic; its body runs as plain code
sum(range(100))


# %% cell 10
# %%html  (dropped: IPython only)
# <b>bold</b>


# %% cell 11
# %%sql  (dropped: IPython only)
# SELECT * FROM runs
