"""`freight doctor [--json] [--image REF] [--cuda X.Y]`: what this machine has (freight/doctor.py).

Exit 0 when nothing is a problem, 1 when something is (each with its fix)."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from freight.cli.app import app, err, out, print_json

STYLES = {"ok": "green", "absent": "dim", "info": "cyan", "warn": "yellow", "problem": "bold red"}


@app.command()
def doctor(
    image: str = typer.Option(None, "--image", help="Check the GPU driver against this image's CUDA version."),
    cuda: str = typer.Option(None, "--cuda", help="Check the GPU driver against a planned base's CUDA (e.g. 12.4)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Engines, schedulers, login node, GPUs and driver, cache room: each problem with its fix."""
    from freight.doctor import DoctorRequest, diagnose

    report = diagnose(DoctorRequest(image=image, cuda=cuda))
    if as_json:
        print_json(json.dumps(report.as_dict()))
    else:
        out.print(findings_table(report.findings))
        err.print(summary(report), markup=False, highlight=False)
    raise typer.Exit(1 if report.problems else 0)


def findings_table(findings) -> Table:
    """One row per finding; the fix goes under the detail, so the table fits a terminal."""
    table = Table("status", "area", "name", "version", "detail / fix", box=None, pad_edge=False)
    for finding in findings:
        detail = Text(finding.detail)
        if finding.fix:
            detail.append(f"\nfix: {finding.fix}", style="dim" if finding.status != "problem" else "bold")
        table.add_row(Text(finding.status, style=STYLES.get(finding.status, ""), no_wrap=True),
                      Text(finding.area, no_wrap=True), Text(finding.name, no_wrap=True),
                      Text(finding.version or "", no_wrap=True), detail)
    return table


def summary(report) -> str:
    problems, warnings = len(report.problems), sum(f.status == "warn" for f in report.findings)
    text = f"{problems} problem{'s' * (problems != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return text + (": each has its fix above" if problems or warnings else "")
