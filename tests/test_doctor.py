"""freight doctor: real probes of this machine (whatever it has: each tool is either found with
its version or reported absent), the driver/CUDA table, login-node and cache judgements."""

import json
import math
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from freight.cuda_drivers import check_driver, load_table, minimum_driver, newest_supported, parse_driver
from freight.doctor import ENGINES, SCHEDULERS, DoctorRequest, Probe, diagnose, gpu_findings, version_of
from freight.doctor_checks import cache_finding, cuda_findings, image_cuda, login_findings
from freight.errors import ConfigError

STATUSES = {"ok", "absent", "info", "warn", "problem"}
FIELDS = {"area", "name", "status", "detail", "fix", "version"}
Usage = namedtuple("Usage", "total used free")
GIB = 1024**3


@pytest.fixture(scope="module")
def report():
    return diagnose(DoctorRequest(cuda="12.4"))


def finding(report, area, name):
    return next(f for f in report.findings if f.area == area and f.name == name)


@pytest.mark.parametrize("name", ["sbatch", "podman", "ch-run", "docker", "apptainer", "condor_submit", "bsub", "kubectl"])
def test_each_tool_is_found_with_its_version_or_reported_absent(report, name):
    area = "engine" if name in ENGINES else "scheduler"
    found = finding(report, area, name)
    if shutil.which(name) is None:
        assert (found.status, found.detail) == ("absent", "not on PATH")
    else:
        assert found.status in ("ok", "warn")  # warn: on PATH but its version command fails
        if found.status == "ok":
            assert found.detail == shutil.which(name) and found.version and found.version[0].isdigit()


def test_sbatch_version_is_slurms_own(report):
    if shutil.which("sbatch") is None:
        pytest.skip("no sbatch on this machine")
    printed = subprocess.run(["sbatch", "--version"], capture_output=True, text=True).stdout  # "slurm-wlm 22.05.8"
    assert finding(report, "scheduler", "sbatch").version == printed.split()[-1]


def test_qsub_says_which_scheduler_it_belongs_to(report):
    if shutil.which("qsub") is None:
        pytest.skip("no qsub on this machine")
    first = subprocess.run(["qsub", "-help"], capture_output=True, text=True).stdout.splitlines()[0]
    found = finding(report, "scheduler", "qsub")
    if first.startswith("SGE"):  # Son of Grid Engine: "SGE 8.1.9"
        assert found.detail.endswith("(Grid Engine)") and found.version == first.split()[1]
    else:
        assert "PBS" in found.detail


def test_no_gpu_is_information_not_a_problem(report):
    if shutil.which("nvidia-smi") is not None:
        pytest.skip("this machine has nvidia-smi")
    gpu = finding(report, "gpu", "nvidia")
    assert gpu.status == "info" and "no NVIDIA GPU" in gpu.detail
    cuda = finding(report, "cuda", "--cuda 12.4")
    assert cuda.status == "info" and "550.54.14" in cuda.detail and "--cuda 12.4" in cuda.fix


def test_report_as_json_has_the_documented_schema(report):
    data = json.loads(json.dumps(report.as_dict()))
    assert set(data) == {"ok", "problems", "findings"}
    assert data["ok"] is (data["problems"] == 0) and data["problems"] == len(report.problems)
    assert all(set(f) == FIELDS and f["status"] in STATUSES for f in data["findings"])
    areas = {f["area"] for f in data["findings"]}
    assert {"engine", "scheduler", "node", "gpu", "cuda", "cache"} <= areas
    assert len([f for f in data["findings"] if f["area"] in ("engine", "scheduler")]) == len(ENGINES) + len(SCHEDULERS) + 1


def test_a_program_that_cannot_start_is_a_warning_with_its_last_line(tmp_path):
    from freight.doctor import probe, tool_finding

    broken = tmp_path / "podman"
    broken.write_text("#!/bin/sh\necho 'Traceback (most recent call last):'\necho 'ImportError: no lark' >&2\nexit 1\n")
    broken.chmod(0o755)
    found = tool_finding("engine", "podman", probe(["podman", "--version"], {"PATH": str(tmp_path)}))
    assert found.status == "warn" and found.detail.endswith("ImportError: no lark")


def test_version_of_reads_the_usual_outputs():
    assert version_of("podman version 4.3.1") == "4.3.1"
    assert version_of("$CondorVersion: 24.0.1 2024-08-06 BuildID: 1 $") == "24.0.1"
    assert version_of("Client Version: v1.29.2\nKustomize Version: v5.0.4") == "1.29.2"
    assert version_of("apptainer version 1.3.4") == "1.3.4"
    assert version_of("no digits") is None


# --- the driver / CUDA table -------------------------------------------------------------------

def test_cuda_12_4_needs_550_54_14_on_linux():
    assert minimum_driver("12.4") == ("550.54.14", [])
    assert check_driver("550.54.14", "12.4").ok
    assert check_driver("550.54.15", "12.4.1").ok


def test_a_535_driver_fails_cuda_12_4_and_is_told_to_update_or_use_12_2():
    verdict = check_driver("535.104.05", "12.4")
    assert not verdict.ok and verdict.needs == "550.54.14"
    assert verdict.fix == "update the driver to >= 550.54.14, or use a CUDA 12.2 base"
    assert any("minor version compatibility" in note for note in verdict.notes)  # 535 >= 525.60.13
    assert any("cuda-compat" in note for note in verdict.notes)


def test_a_driver_from_an_older_major_family_gets_no_minor_compatibility_note():
    verdict = check_driver("470.82.01", "12.1")
    assert not verdict.ok and verdict.fix.endswith("or use a CUDA 11.4 base")
    assert not any("minor version" in note for note in verdict.notes)


def test_table_is_monotonic_and_every_value_parses():
    table = load_table()
    drivers = [parse_driver(value) for value in table.toolkit.values()]  # newest CUDA first
    assert drivers == sorted(drivers, reverse=True)
    assert list(table.toolkit) == sorted(table.toolkit, reverse=True)
    assert all(parse_driver(value) for value in table.minor_compat.values())


def test_cuda_newer_than_the_table_is_checked_against_the_newest_row_with_a_note():
    needs, notes = minimum_driver("99.1")
    assert needs == next(iter(load_table().toolkit.values())) and "refresh" in notes[0]


def test_newest_supported_and_bad_versions():
    assert newest_supported("560.35.03") == "12.6"
    assert newest_supported("300.1") is None
    with pytest.raises(ConfigError):
        check_driver("550", "twelve")
    with pytest.raises(ConfigError):
        parse_driver("latest")


def test_nvidia_smi_output_gives_one_finding_per_gpu_and_the_driver():
    output = "NVIDIA H100 80GB HBM3, 81559 MiB, 535.104.05\nNVIDIA H100 80GB HBM3, 81559 MiB, 535.104.05\n"
    findings, driver = gpu_findings(Probe("/usr/bin/nvidia-smi", 0, output))
    assert driver == "535.104.05" and [f.name for f in findings] == ["gpu0", "gpu1"]
    assert findings[0].detail == "NVIDIA H100 80GB HBM3, 81559 MiB"
    failed, none = gpu_findings(Probe("/usr/bin/nvidia-smi", 9, "NVIDIA-SMI has failed because it couldn't communicate"))
    assert none is None and failed[0].status == "problem"


def test_an_old_driver_against_a_planned_base_is_a_problem_with_its_fix():
    [found] = cuda_findings(DoctorRequest(cuda="12.4"), "535.104.05", {})
    assert found.status == "problem" and "update the driver" in found.fix and "CUDA 12.2 base" in found.fix
    [fine] = cuda_findings(DoctorRequest(cuda="12.2"), "535.104.05", {})
    assert fine.status == "ok"


@pytest.mark.parametrize("ref, cuda", [
    ("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", "12.4"),
    ("docker.io/pytorch/pytorch:2.4.1-cuda12.1-cudnn9-runtime", "12.1"),
    ("ghcr.io/me/train:torch2.3-cu118", "11.8"),
])
def test_cuda_version_from_the_image_name(ref, cuda):
    assert image_cuda(ref, {}) == cuda


def test_cuda_version_from_a_directory_images_environment(tmp_path):
    (tmp_path / "ch").mkdir()
    (tmp_path / "ch" / "environment").write_text("PATH=/usr/bin\nCUDA_VERSION=12.6.2\n")
    assert image_cuda(str(tmp_path), {}) == "12.6"


def test_a_cpu_image_has_no_cuda_version():
    from ci_images import images

    found = images().get("FREIGHT_CI_PODMAN_IMAGE")
    if not found or shutil.which("podman") is None:
        pytest.skip("no podman test image here")
    assert image_cuda(found, {"podman": Probe(shutil.which("podman"))}) is None  # real `podman image inspect`


# --- login node and caches ---------------------------------------------------------------------

SBATCH = {"sbatch": Probe("/usr/bin/sbatch", 0, "slurm 23.02.1")}


@pytest.mark.parametrize("host", ["login1.frontera.tacc.utexas.edu", "crcfe01.crc.nd.edu", "ln03", "submit2.chtc.wisc.edu"])
def test_login_node_names_get_the_seeds_advice(host):
    [found] = login_findings(host, {}, {})
    assert found.status == "warn" and "never run heavy work" in found.fix


def test_inside_a_job_is_not_a_login_node():
    [found] = login_findings("login1", {"SLURM_JOB_ID": "42"}, SBATCH)
    assert found.status == "ok" and "SLURM_JOB_ID=42" in found.detail


def test_a_scheduler_outside_a_job_alone_is_a_maybe_and_with_many_users_a_warning():
    [maybe] = login_findings("c401-011", {}, SBATCH)
    assert maybe.status == "info" and "sbatch" in maybe.detail
    who = Probe("/usr/bin/who", 0, "\n".join(f"user{i} pts/{i} 2026-11-23 10:00" for i in range(7)))
    [busy] = login_findings("c401-011", {}, {**SBATCH, "who": who})
    assert busy.status == "warn" and "7 users" in busy.detail


def test_cache_with_little_room_is_a_problem_and_small_home_a_warning(tmp_path):
    tiny = cache_finding("APPTAINER_CACHEDIR", str(tmp_path / "c"), False, "/nowhere", lambda _: Usage(100 * GIB, 99 * GIB, GIB))
    assert tiny.status == "problem" and tiny.fix.startswith("export APPTAINER_CACHEDIR=")
    home = cache_finding("APPTAINER_CACHEDIR", str(tmp_path / "c"), False, str(tmp_path), lambda _: Usage(25 * GIB, 5 * GIB, 20 * GIB))
    assert home.status == "warn" and "quota" in home.detail
    roomy = cache_finding("CH_IMAGE_STORAGE", str(tmp_path / "c"), True, "/nowhere", lambda _: Usage(900 * GIB, 0, 900 * GIB))
    assert roomy.status == "ok" and "(default)" not in roomy.detail


def test_cache_places_follow_the_variables_and_measure_the_real_disk(tmp_path):
    report = diagnose(DoctorRequest(environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                             "APPTAINER_CACHEDIR": str(tmp_path / "app"),
                                             "FREIGHT_CACHE_DIR": str(tmp_path / "fc")}))
    caches = {f.name: f for f in report.findings if f.area == "cache"}
    assert caches["APPTAINER_CACHEDIR"].detail.startswith(f"{tmp_path / 'app'}: ")
    free = shutil.disk_usage(tmp_path).free / GIB
    shown = float(caches["FREIGHT_CACHE_DIR"].detail.split(": ")[1].split()[0])
    assert math.isclose(shown, free, abs_tol=1.0)
    assert Path(caches["FREIGHT_HOME"].detail.split(" ")[0]).name == ".freight"
