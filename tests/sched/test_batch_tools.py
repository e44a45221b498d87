"""sched/batch.py run_tool: a scheduler command stopped at its time limit says what it printed until
then (sbatch says why it waits), and a failure quotes the command's own words."""

import pytest

from freight.errors import ConfigError
from freight.sched.batch import ToolTimeout, run_tool


def test_a_command_stopped_at_its_limit_quotes_what_it_printed():
    with pytest.raises(ToolTimeout) as info:
        run_tool(["sh", "-c", "echo 'queue full, sleeping and retrying' >&2; sleep 30"], timeout=1)
    assert info.value.said == "queue full, sleeping and retrying"
    assert info.value.one_line() == ("sh did not answer within 1 s; it said: queue full, sleeping and retrying"
                                     " (fix: check that the scheduler is up, then try again)")


def test_a_silent_command_stopped_at_its_limit_says_only_that():
    with pytest.raises(ToolTimeout) as info:
        run_tool(["sleep", "30"], timeout=1)
    assert info.value.said == "" and info.value.problem == "sleep did not answer within 1 s"


def test_a_failing_command_quotes_its_own_words():
    with pytest.raises(ConfigError, match=r"^sh failed: no such queue: all\.q$"):
        run_tool(["sh", "-c", "echo 'no such queue:' >&2; echo '  all.q' >&2; exit 1"])
