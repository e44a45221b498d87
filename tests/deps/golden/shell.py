#!/usr/bin/env python3
# shell.py: converted from the notebook shell.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).
#
# Requirements, from the notebook's `pip install` lines (this script does not install them;
# freight installs them into the job's environment):
#   numpy==1.26.4
#   tqdm
#   rich
#
# System packages, from its `apt-get install` lines (install them in the image):
#   ffmpeg

import subprocess
import sys

sys.stdout.reconfigure(line_buffering=True)  # keeps print() and commands in order in a log


# %% cell 1 [markdown]
# Shell lines: `!cmd` in every form IPython allows.


# %% cell 2
subprocess.run(["ls", "-l", "data"], check=True)
subprocess.run(["echo", "hello world", f"{name}", f"{n + 1}"], check=True)
subprocess.run(["wget", "-q", "https://example.org/x.zip", "-O", "x.zip"], check=True)


# %% cell 3
# shell=True: the command uses a pipe, redirection or command list
subprocess.run("ls data | wc -l", shell=True, check=True)
# shell=True: the command uses a pipe, redirection or command list
subprocess.run("cat a.txt > b.txt 2>&1", shell=True, check=True)
# shell=True: the command uses a pipe, redirection or command list
subprocess.run("make && make install", shell=True, check=True)
# shell=True: the command uses $ or ` expansion (IPython also put Python variables into $name)
subprocess.run("echo $HOME", shell=True, check=True)
# shell=True: the command uses wildcards
subprocess.run("ls *.csv", shell=True, check=True)
# shell=True: the command uses ~ for the home folder
subprocess.run("ls ~/data", shell=True, check=True)
# shell=True: the command runs the shell builtin `cd`
subprocess.run("cd data", shell=True, check=True)
# shell=True: the command sets an environment variable for the command
subprocess.run("CUDA_VISIBLE_DEVICES=0 python train.py", shell=True, check=True)


# %% cell 4
files = subprocess.run(["ls", "data"], capture_output=True, text=True, check=True).stdout.splitlines()
# shell=True: the command uses a pipe, redirection or command list
files_sorted = subprocess.run("ls data | sort", shell=True, capture_output=True, text=True, check=True).stdout.splitlines()
for f in files:
    subprocess.run(["gzip", f"{f}"], check=True)
    count = subprocess.run(["wc", "-l", f"{f}"], capture_output=True, text=True, check=True).stdout.splitlines()


# %% cell 5
subprocess.run(["ls", "-la"], check=True)
out = subprocess.run(["date"], capture_output=True, text=True, check=True).stdout.splitlines()
subprocess.run(["uname", "-a"], check=True)
# shell=True: the command uses a pipe, redirection or command list
subprocess.run("find . -name '*.tmp' -exec rm {} \\;", shell=True, check=True)
subprocess.run(["echo", f"{{literal", f"braces}}"], check=True)


# %% cell 6
# install (see the requirements at the top): !pip install -q numpy==1.26.4
# install (see the requirements at the top): !apt-get -qq install -y ffmpeg
# install (see the requirements at the top): !pip install tqdm && pip install rich
