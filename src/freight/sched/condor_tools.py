"""Talking to an HTCondor schedd: the official Python bindings (`htcondor.Schedd`) when a
schedd can be located, else the `condor_submit` / `condor_q` / `condor_history` / `condor_rm`
commands. Both answer with job ClassAds as plain dicts, so the target has one code path.

Documented outputs this reads: `condor_submit` prints "N job(s) submitted to cluster C.";
`condor_q -json` and `condor_history -json` print a JSON list of ads (nothing at all when no
job matches).
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

from freight.errors import ConfigError, MissingToolError
from freight.sched.batch import one_line, run_tool

ATTRIBUTES = ["ClusterId", "ProcId", "JobStatus", "ExitCode", "ExitBySignal", "ExitSignal", "HoldReason",
              "RemoveReason", "FreightTask"]
INSTALL_FIX = ("run freight on an HTCondor access point (submit node), where a schedd answers "
               "or condor_submit is installed")
_SUBMITTED = re.compile(r"(\d+)\s+job\(s\)\s+submitted\s+to\s+cluster\s+(\d+)\.")


def parse_submit_output(text: str) -> tuple[str, int]:
    """condor_submit's "3 job(s) submitted to cluster 42." -> ("42", 3)."""
    found = _SUBMITTED.search(text)
    if found is None:
        raise ConfigError(f"condor_submit said no cluster id: {one_line(text)[:200] or 'nothing'}",
                          fix="run condor_submit on the submit file by hand to see why")
    return found.group(2), int(found.group(1))


def parse_ads(text: str) -> list[dict]:
    """`condor_q -json` / `condor_history -json`: a JSON list of ads; empty output is no jobs."""
    text = text.strip()
    return json.loads(text) if text else []


def run_constraint(run_id: str) -> str:
    return f'FreightRun == "{run_id}"'  # run ids are [A-Za-z0-9_.-]: no quote to escape


def _bindings():
    """The htcondor module, without its warning about a missing condor_config (a laptop)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import htcondor
    except ImportError:
        return None
    return htcondor


def locate_schedd():
    """The local schedd through the bindings, or None (no bindings, no pool configured)."""
    htcondor = _bindings()
    if htcondor is None:
        return None
    try:
        return htcondor.Schedd()
    except Exception:  # HTCondorLocateError and friends: no schedd answers here
        return None


class Condor:
    """One way to reach the schedd, picked once: bindings first, the CLI second."""

    def __init__(self) -> None:
        self.schedd = locate_schedd()
        if self.schedd is None and shutil.which("condor_submit") is None:
            raise MissingToolError("no HTCondor schedd answers here and condor_submit is not installed "
                                   "(needed for --target htcondor)", fix=INSTALL_FIX)

    def submit(self, submit_file: Path) -> str:
        """Submit the description (its queue statement reads the queue file); the cluster id."""
        if self.schedd is None:
            done = run_tool(["condor_submit", str(submit_file)], fix=INSTALL_FIX)
            return parse_submit_output(done.stdout)[0]
        htcondor = _bindings()
        description = htcondor.Submit(submit_file.read_text(encoding="utf-8"))
        try:  # the queue file's path is absolute: itemdata() reads it from anywhere
            items = list(description.itemdata() or [])
            result = self.schedd.submit(description, itemdata=iter(items)) if items else self.schedd.submit(description)
        except Exception as exc:
            raise ConfigError(f"the schedd refused the job: {one_line(str(exc))}", path=submit_file,
                              fix="check [targets.htcondor] and the resources asked for") from None
        return str(result.cluster())

    def query(self, run_id: str) -> list[dict] | None:
        """Ads of the run's jobs in the queue; None when the schedd cannot be asked."""
        return self._ads("condor_q", run_id, lambda c: self.schedd.query(constraint=c, projection=ATTRIBUTES))

    def history(self, run_id: str) -> list[dict] | None:
        """Ads of the run's jobs that left the queue (condor_history)."""
        return self._ads("condor_history", run_id, lambda c: self.schedd.history(c, ATTRIBUTES))

    def _ads(self, command: str, run_id: str, through_bindings) -> list[dict] | None:
        constraint = run_constraint(run_id)
        try:
            if self.schedd is None:
                done = run_tool([command, "-json", "-constraint", constraint, "-attributes", ",".join(ATTRIBUTES)],
                                fix=INSTALL_FIX)
                return parse_ads(done.stdout)
            return [_plain(ad) for ad in through_bindings(constraint)]
        except Exception:  # FreightError, the bindings' own: not answering now
            return None

    def remove(self, constraint: str) -> None:
        if self.schedd is None:
            run_tool(["condor_rm", "-constraint", constraint], check=False, fix=INSTALL_FIX)
            return
        htcondor = _bindings()
        self.schedd.act(htcondor.JobAction.Remove, constraint)


def _plain(ad) -> dict:
    """A ClassAd as a dict of Python values, read while the ad is alive (a freed ad segfaults)."""
    return {key: ad.eval(key) if hasattr(ad, "eval") else ad[key] for key in ATTRIBUTES if key in ad}
