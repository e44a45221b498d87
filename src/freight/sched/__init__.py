"""Targets: where tasks run. One module per target; `get_target(name)` picks one by name."""

from __future__ import annotations

from freight.plugins import load_plugin

# name -> "module:Class"; imported on demand so one target's imports never slow another's.
TARGETS = {
    "basecommand": "freight.sched.basecommand:BaseCommandTarget",
    "htcondor": "freight.sched.htcondor:HTCondorTarget",
    "kubernetes": "freight.sched.kubernetes:KubernetesTarget",
    "local": "freight.sched.local:LocalTarget",
    "lsf": "freight.sched.lsf:LsfTarget",
    "pbs": "freight.sched.pbs:PbsTarget",
    "sge": "freight.sched.sge:SgeTarget",
    "slurm": "freight.sched.slurm:SlurmTarget",
}


def get_target(name: str):
    return load_plugin(TARGETS, name, "target")
