"""freight.image.remote_build: the HTCondor build job `freight image build --profile chtc` writes.
The submit description is read by the official bindings' own parser (tests/sched/
condor_validate.py, in a subprocess); the script passes shellcheck and, with podman and the CI
base image, runs for real in a scratch folder laid out as HTCondor would lay it out."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from building import BASE, need_engine
from clusters import condor_submit_ads as validate
from clusters import shellcheck

from freight.errors import ConfigError, InputError, MissingToolError
from freight.image.build_size import parse_gb, size_build
from freight.image.plan import make_plan
from freight.image.remote_build import (
    CONTEXT,
    SCRIPT,
    interactive_argv,
    prepare,
    submit,
    where_to_build,
)

MAIN = "import json\nprint(json.dumps({'ok': 1}))\n"
SECRETS = {".env": "API_TOKEN=do-not-ship\n", "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "config"))  # no user profile
    folder = tmp_path / "proj"
    folder.mkdir()
    for name, text in {"main.py": MAIN, **SECRETS}.items():
        (folder / name).write_text(text)
    return folder


def job(project: Path, folder: Path, **options):
    plan = make_plan(project, base=options.pop("base", "python:3.11-slim"), bake=True, lock=False)
    return plan, prepare(plan, folder, **options)


def test_the_bindings_read_a_build_job_with_its_disk_transfers_and_engine(project, tmp_path):
    plan, build = job(project, tmp_path / "job", site_disk="16G")
    ad = validate(build.submit_file)["ads"][0]
    assert ad["IsBuildJob"] == "True" and ad["JobUniverse"] == "5"  # vanilla
    assert int(ad["RequestDisk"]) == 16 * 1024 * 1024  # KiB: the site's floor beats 3 x a small image
    assert ad["RequestMemory"] == "4096"
    assert ad["Cmd"] == str(build.folder / SCRIPT)
    assert ad["TransferInput"] == str(build.folder / CONTEXT)  # the filtered context, nothing else
    assert ad["TransferOutput"] == build.image_file == f"{plan.name}-{plan.tag}.sif"
    assert "HasSingularity" in ad["Requirements"]
    sent = sorted(str(p.relative_to(build.folder / CONTEXT)) for p in (build.folder / CONTEXT).rglob("*"))
    assert "code/main.py" in sent and not any(Path(p).name in SECRETS for p in sent)
    assert {item.split(" ")[0] for item in build.left_out} >= set(SECRETS)


def test_the_script_builds_with_apptainer_in_the_context_and_sends_the_sif_back(project, tmp_path):
    _, build = job(project, tmp_path / "job")
    script = (build.folder / SCRIPT).read_text()
    assert "set -euo pipefail" in script
    assert '(cd "$context" && apptainer build --force "$scratch/$image_file" freight.def)' in script
    assert "image_file=" + build.image_file in script and "push" not in script.split("exit 0")[0]
    shellcheck(build.folder / SCRIPT)


@pytest.mark.parametrize("engine, pushed", [("apptainer", 'apptainer push "$scratch/$image_file" "oras://$destination"'),
                                            ("podman", 'podman push "$tag" "docker://$destination"')])
def test_a_push_job_is_interactive_and_logs_in_with_the_engine_never_a_password(project, tmp_path, engine, pushed):
    plan, build = job(project, tmp_path / "job", engine=engine, registry="docker.io/chtcuser")
    script = (build.folder / SCRIPT).read_text()
    assert build.destination == f"docker.io/chtcuser/{plan.name}:{plan.tag}" and build.interactive
    assert pushed in script and "--password" not in script and "login" in script
    assert build.submit_argv()[:2] == ["condor_submit", "-i"]
    ad = validate(build.submit_file)["ads"][0]
    assert "TransferOutput" not in ad and ad["IsBuildJob"] == "True"
    shellcheck(build.folder / SCRIPT)


def test_disk_follows_the_plan_three_times_the_image_at_least_20g_for_cuda(project, tmp_path):
    plan = make_plan(project, base="nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", lock=False)
    plan.requirements = ["torch==2.3.1", "numpy"]
    size = size_build(plan)
    assert size.expected_gb > 9 and size.disk_gb == max(20, math.ceil(3 * size.expected_gb))
    assert size.memory_gb == 8
    small = make_plan(project, base="python:3.11-slim", lock=False)
    assert size_build(small).disk_gb == 8 and size_build(small, site_floor_gb=16).disk_gb == 16
    assert parse_gb("16GB") == 16 and parse_gb("1500M") == 2 and parse_gb(None) is None
    with pytest.raises(ConfigError):
        parse_gb("lots")


def test_an_explicit_disk_wins_and_a_used_folder_or_local_base_is_refused(project, tmp_path):
    _, build = job(project, tmp_path / "job", disk="50G")
    assert build.size.disk_gb == 50 and "request_disk = 50G" in build.submit_file.read_text()
    with pytest.raises(InputError, match="not empty"):
        job(project, tmp_path / "job")
    (tmp_path / "base.sif").write_text("")
    with pytest.raises(InputError, match="cannot reach"):
        job(project, tmp_path / "other", base=str(tmp_path / "base.sif"))
    with pytest.raises(ConfigError, match="apptainer or podman"):
        job(project, tmp_path / "third", engine="charliecloud")


def test_the_chtc_profile_builds_remotely_and_remote_none_builds_here(project):
    where = where_to_build(project, "chtc")
    assert where.remote and where.build_disk == "16G" and "chtc" in where.why
    assert not where_to_build(project).remote
    assert not where_to_build(project, "chtc", "none").remote
    assert where_to_build(project, None, "htcondor").remote
    (project / "freight.toml").write_text('profile = "chtc"\n')
    assert where_to_build(project).remote
    with pytest.raises(ConfigError):
        where_to_build(project, None, "slurm")


def test_with_no_schedd_and_no_condor_submit_submitting_is_one_clear_refusal(project, tmp_path, monkeypatch):
    monkeypatch.setenv("CONDOR_CONFIG", "/dev/null")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin")
    if shutil.which("condor_submit"):
        pytest.skip("condor_submit is installed here")
    _, build = job(project, tmp_path / "job")
    with pytest.raises(MissingToolError, match="written to") as caught:
        submit(build)
    assert "\n" not in caught.value.one_line() and str(build.folder) in caught.value.one_line()
    _, pushing = job(project, tmp_path / "push", registry="ghcr.io/lab")
    with pytest.raises(MissingToolError, match="condor_submit -i"):
        interactive_argv(pushing)


def test_the_cli_dry_run_writes_the_job_and_a_real_build_refuses_with_one_line(project, tmp_path):
    freight = [sys.executable, "-m", "freight"]
    env = {**os.environ, "CONDOR_CONFIG": "/dev/null", "FREIGHT_CONFIG_DIR": str(tmp_path / "config")}
    done = subprocess.run([*freight, "image", "build", str(project), "--profile", "chtc", "--render-only",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "out") and (tmp_path / "out" / "htcondor-build.sub").is_file()
    assert "request_disk 16G" in done.stderr
    if shutil.which("condor_submit"):
        return
    done = subprocess.run([*freight, "image", "build", str(project), "--profile", "chtc"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "condor_submit is not installed" in done.stderr.strip().splitlines()[-1]


def test_the_podman_script_really_builds_in_a_scratch_folder_laid_out_like_htcondors(project, tmp_path):
    need_engine("podman")
    plan, build = job(project, tmp_path / "job", engine="podman", base=BASE)
    scratch = tmp_path / "scratch"  # what the execute machine gets: the context folder and the script
    shutil.copytree(build.folder / CONTEXT, scratch / CONTEXT)
    shutil.copy2(build.folder / SCRIPT, scratch / "condor_exec.exe")
    tag = f"localhost/{plan.ref}"
    try:
        done = subprocess.run(["bash", "condor_exec.exe"], cwd=scratch, capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (scratch / build.image_file).stat().st_size > 1_000_000  # the OCI archive that comes back
        listed = subprocess.run(["podman", "run", "--rm", tag, "ls", "-a", "/opt/project"], capture_output=True,
                                text=True, timeout=120)
        assert "main.py" in listed.stdout.split() and not set(SECRETS) & set(listed.stdout.split())
    finally:
        subprocess.run(["podman", "rmi", "-f", tag], capture_output=True)
