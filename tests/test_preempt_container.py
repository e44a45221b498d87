"""The checkpoint command of a container job runs in the job's image, as the program does: it
usually runs the user's own code (`python save.py`), which needs the image's python and packages.
Real Podman and Charliecloud with the CI image (`ci/containers.sh up`), on the local target: the
program waits for the warning signal; the checkpoint command proves where it ran (the image's
marker file, the image's python) by writing them into the project folder, bound at the same path."""

import json

import pytest
from ci_images import require

PROGRAM = """
import os, signal, sys, time
signal.signal(signal.SIGUSR1, lambda *_: None)  # the warning: the checkpoint command does the saving
saved = os.path.join(sys.argv[1], "saved.json")
while not os.path.exists(saved):
    time.sleep(0.1)
print("resumable")
"""

SAVE = """
import json, os, sys
with open(os.path.join(sys.argv[1], "saved.tmp"), "w") as f:
    json.dump({"marker": open("/etc/freight-ci-image").read().strip(), "python": sys.executable,
               "task": os.environ["FREIGHT_TASK_INDEX"]}, f)
os.replace(os.path.join(sys.argv[1], "saved.tmp"), os.path.join(sys.argv[1], "saved.json"))
print("saved in the image")
"""


# With the SquashFS file ch-run stays the program's parent (it serves the mount): the warning
# signal goes to the program, not to ch-run, which would die of it and take the files along.
@pytest.mark.parametrize(("engine", "key"), [("podman", "FREIGHT_CI_PODMAN_IMAGE"), ("charliecloud", "FREIGHT_CI_CH_DIR"),
                                             ("charliecloud", "FREIGHT_CI_CH_SQFS")])
def test_the_checkpoint_command_runs_in_the_image(project, engine, key):
    images = require(engine)
    project.write("work.py", PROGRAM)
    project.write("save.py", SAVE)
    record = project.record("run", "--env", "current", "--engine", engine, "--image", images[key],
                            "--time", "40s", "--signal", "USR1@30", "--checkpoint-cmd", f"python save.py {project.root}",
                            "work.py", str(project.root))
    [task] = record["tasks"]
    assert task["state"] == "succeeded", task
    saved = json.loads((project.root / "saved.json").read_text())
    assert saved == {"marker": images["FREIGHT_CI_MARKER"], "python": "/usr/bin/python3", "task": "0"}
    logs = project.root / record["run_dir"] / "tasks" / "0"
    assert "saved in the image" in (logs / "stdout.log").read_text()  # its output: the task's log
    assert "the checkpoint command exited 0" in (logs / "stderr.log").read_text()
