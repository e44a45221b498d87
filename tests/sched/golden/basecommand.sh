#!/bin/bash
# freight run r1 on NVIDIA Base Command Platform: 2 task(s), one job each,
# all labelled freight_r1. Rendered by freight; run this file to submit the same jobs by hand.
# Commands and flags: NGC CLI reference, https://docs.ngc.nvidia.com/cli/cmd_batch.html and the
# BCP user guide, https://docs.nvidia.com/base-command-platform/user-guide/latest/index.html
# (`ngc base-command job run`; `ngc batch run` in older CLIs).
set -euo pipefail
# The task wrapper, job.json and tasks.jsonl go to the workspace, next to the code.
ngc workspace upload --source /home/ana/proj/.freight/runs/r1/scripts/basecommand-1 --destination proj/.freight/runs/r1/scripts/basecommand-1 --org r2kuatviomfd --team internal-sandbox ana_containers
# submit_task INDEX: the job that runs task INDEX.
submit_task() {
  local index=$1
  ngc base-command job run --name bench-"$index" --image nvcr.io/r2kuatviomfd/internal-sandbox/ana_lightning:latest --instance dgxa100.80g.1.norm --result /results --commandline 'set -eu; mkdir -p /results/freight; cp /mnt/workspace/proj/.freight/runs/r1/scripts/basecommand-1/job.json /mnt/workspace/proj/.freight/runs/r1/scripts/basecommand-1/tasks.jsonl /results/freight/; export PYTHONPATH=/mnt/workspace/proj/.freight/runs/r1/scripts/basecommand-1/lib"${PYTHONPATH:+:$PYTHONPATH}"; export FREIGHT_SCHEDULER=basecommand; exec python3 -m freight.task /results/freight --index '"$index" --workspace ana_containers:/mnt/workspace:RW --total-runtime 7200s --label freight_r1 --org r2kuatviomfd --team internal-sandbox --ace sa-nvex-scus-ace --format_type json
}
for ((task = 0; task <= 1; task++)); do submit_task "$task"; done
