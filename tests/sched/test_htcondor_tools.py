"""The condor_* command fallback: reading the documented outputs of condor_submit, condor_q
-json and condor_history -json (no pool exists here to produce them for real)."""

import pytest

from freight.errors import ConfigError
from freight.sched.condor_tools import parse_ads, parse_submit_output, run_constraint

# condor_submit's output as HTCondor's manual shows it (users-manual/submitting-a-job).
SUBMIT_OUTPUT = """Submitting job(s)...
3 job(s) submitted to cluster 42.
"""


def test_the_cluster_id_comes_from_condor_submits_own_words():
    assert parse_submit_output(SUBMIT_OUTPUT) == ("42", 3)
    assert parse_submit_output("Submitting job(s).\n1 job(s) submitted to cluster 7.\n") == ("7", 1)


def test_output_without_a_cluster_is_a_one_line_error():
    with pytest.raises(ConfigError, match="condor_submit said no cluster id: ERROR: on Line 3"):
        parse_submit_output("ERROR: on Line 3 of submit file:\nSubmit:0:Unknown universe")


def test_condor_q_json_is_a_list_of_ads_and_no_output_is_no_jobs():
    text = '[\n{ "ClusterId": 42, "ProcId": 1, "JobStatus": 2, "FreightTask": 7 }\n]\n'
    assert parse_ads(text) == [{"ClusterId": 42, "ProcId": 1, "JobStatus": 2, "FreightTask": 7}]
    assert parse_ads("") == [] and parse_ads("\n") == []


def test_the_runs_jobs_are_found_by_their_attribute():
    assert run_constraint("train-20261123-181428-b0cf") == 'FreightRun == "train-20261123-181428-b0cf"'
