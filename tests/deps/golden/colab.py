#!/usr/bin/env python3
# colab.py: converted from the notebook colab.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).
#
# Requirements, from the notebook's `pip install` lines (this script does not install them;
# freight installs them into the job's environment):
#   transformers==4.36.2
#   datasets
#   accelerate>=0.25
#   peft @ git+https://github.com/huggingface/peft.git
#   torch==2.1.0+cu118
#
# Colab data paths: map them to where the data is on this machine (or mount it there):
#   /content/drive/MyDrive/projects/finetune
#   /content/drive/MyDrive/datasets/reviews
#   /content/sample_data
#   /content/drive/MyDrive/checkpoints/model.pt
#   /content/model.pt

import os
import subprocess
import sys

sys.stdout.reconfigure(line_buffering=True)  # keeps print() and commands in order in a log


# %% cell 1 [markdown]
# # Fine-tune on Colab
# Mount Drive first.


# %% cell 2
subprocess.run(["nvidia-smi"], check=True)
# install (see the requirements at the top): !pip install -q transformers==4.36.2 datasets accelerate>=0.25
# install (see the requirements at the top): !pip install -U git+https://github.com/huggingface/peft.git#egg=peft
# install (see the requirements at the top): %pip install --quiet 'torch==2.1.0+cu118' --extra-index-url https://download.pytorch.org/whl/cu118


# %% cell 3
# Colab only: from google.colab import drive
# Colab only: drive.mount('/content/drive', force_remount=True)


# %% cell 4
# Colab only: from google.colab import files, userdata
# Colab only: uploaded = files.upload()
# Colab only: hf_token = userdata.get('HF_TOKEN')


# %% cell 5
os.chdir("/content/drive/MyDrive/projects/finetune")
DATA_DIR = '/content/drive/MyDrive/datasets/reviews'
train_path = f"{DATA_DIR}/train.csv"
subprocess.run(["ls", "/content/sample_data"], check=True)


# %% cell 6
try:
    import google.colab
    IN_COLAB = True
except ImportError:
    IN_COLAB = False


# %% cell 7
import torch
model = torch.nn.Linear(4, 2)
torch.save(model.state_dict(), '/content/drive/MyDrive/checkpoints/model.pt')
# Colab only: files.download('/content/model.pt')
