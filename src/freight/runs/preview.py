"""`freight script`: the scheduler scripts `freight run` would submit, rendered and not submitted.

Nothing is written: no run folder, no row in the store. The target renders for a draft run,
the RunRecord `freight run` would create (an id of the same form, its folder path under
.freight/runs/), held in memory only. So the text is what `freight run` would write, except
for the run id, which `freight run` draws anew.
"""

from __future__ import annotations

import time
from pathlib import Path

from freight.errors import MissingToolError
from freight.runs.layout import RunPaths
from freight.runs.store import RunRecord, new_run_id
from freight.sched import get_target
from freight.spec.job import Job


def draft_run(job: Job, target_name: str, home: Path, run_id: str | None = None) -> RunRecord:
    """The run `freight run` would create for this job, in memory only."""
    run_id = run_id or new_run_id(job.name)
    record = RunRecord(run_id, job.name, target_name, time.time(), len(job.tasks),
                       RunPaths(home / "runs" / run_id))
    # RunRecord reads job and params from the run folder on first use (cached properties);
    # a draft has no folder, so they are filled in from the job itself.
    vars(record).update(job=job, params=[task.params for task in job.tasks])
    return record


def render_scripts(job: Job, target_name: str, home: Path, run_id: str | None = None) -> tuple[RunRecord, dict[str, str]]:
    """(the draft run, {file name: text}) for every task of the job, as `freight run` would
    submit them: the target's own checks first, except that its scheduler need not be here."""
    target = get_target(target_name)
    try:
        target.check(job)
    except MissingToolError:
        pass  # rendering needs no scheduler: a laptop can show what the cluster would get
    run = draft_run(job, target_name, home, run_id)
    return run, target.render(run, [task.index for task in job.tasks])
