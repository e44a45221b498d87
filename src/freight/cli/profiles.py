"""`freight profiles list|show|check`: the site profiles freight knows (sites/profile.py)."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from freight.cli.app import app, err, out, print_json

profiles_app = typer.Typer(help="Site profiles: settings for a cluster, used with --profile NAME.",
                           no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("list")
def list_profiles(as_json: bool = typer.Option(False, "--json", help="Print them as JSON.")) -> None:
    """The built-in profiles and the user's own (~/.config/freight/profiles/NAME.toml)."""
    from freight.sites.profile import load_profile, profile_files, user_profile_dir

    profiles = [load_profile(name) for name in profile_files()]
    if as_json:
        print_json(json.dumps([{"name": p.name, "target": p.target, "origin": p.origin,
                                "description": p.site.description, "files": [str(f) for f in p.files]}
                               for p in profiles]))
        return
    table = Table("profile", "target", "from", "description", box=None, pad_edge=False)
    for profile in profiles:
        table.add_row(*map(Text, (profile.name, profile.target, profile.origin, profile.site.description)))
    out.print(table)
    err.print(f"your own profiles go in {user_profile_dir()}", markup=False, highlight=False)


@profiles_app.command("show")
def show(name: str = typer.Argument(..., help="The profile's name."),
         as_json: bool = typer.Option(False, "--json", help="Print the merged settings as JSON.")) -> None:
    """The profile's file(s) as written: the built-in one, then the user's on top of it."""
    from freight.sites.profile import load_profile

    profile = load_profile(name)
    if as_json:
        print_json(json.dumps({"name": profile.name, "origin": profile.origin,
                               "files": [str(f) for f in profile.files],
                               "site": profile.site.model_dump(), "settings": profile.settings}))
        return
    for path in profile.files:
        if len(profile.files) > 1:
            out.file.write(f"# ==> {path} <==\n")
        out.file.write(path.read_text(encoding="utf-8"))
    out.file.flush()


@profiles_app.command("check")
def check(name: str = typer.Argument(..., help="The profile's name."),
          as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON.")) -> None:
    """What this machine lacks to run the profile's jobs, each with its fix. Exit 1 if anything."""
    from freight.sites.check import check_profile
    from freight.sites.profile import load_profile

    findings = check_profile(load_profile(name))
    ok = all(finding.ok for finding in findings)
    if as_json:
        print_json(json.dumps({"profile": name, "ok": ok, "findings": [f.as_dict() for f in findings]}))
    else:
        table = Table("", "what", "found", "fix", box=None, pad_edge=False)
        for finding in findings:
            table.add_row(*map(Text, ("ok" if finding.ok else "MISSING", finding.what, finding.detail, finding.fix)))
        out.print(table)
    raise typer.Exit(0 if ok else 1)
