"""--pack on the local target: accepted and harmless (each row runs as its own task there)."""

from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import tasks_by_state


def test_pack_is_accepted_and_harmless_on_the_local_target(project, where):  # noqa: F811
    mark(where, "fail-2")
    project.write("packed.py", PROGRAM)
    record = project.record("run", "--env", "current", "--pack", "3", "--sweep", "n=range:0:5",
                            "packed.py", "{n}", str(where))
    assert tasks_by_state(record) == {"succeeded": [0, 1, 3, 4], "failed": [2]}
    assert executions(where) == dict.fromkeys(range(5), 1)
