"""What one task asks for: cores, memory, GPUs, time. Parsed from the units users type."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MEM_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory_mb(text: str | int | float) -> int:
    """'4G', '512M', '1.5GB', '2048' (MB) -> megabytes."""
    if isinstance(text, (int, float)):
        return int(text)
    match = _MEM_RE.match(text)
    if not match:
        raise ValueError(f"memory {text!r} is not a size like 512M, 4G or 1.5GB")
    number, unit = match.groups()
    return max(1, int(float(number) * _MEM_UNITS[unit.lower()]))


def parse_duration_s(text: str | int) -> int:
    """'90' (minutes, as sbatch reads it), '1:30:00', '2-00:00:00', '45m', '2h', '30s' -> seconds."""
    if isinstance(text, int):
        return text
    value = text.strip().lower()
    suffixed = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", value)
    if suffixed:
        number, unit = suffixed.groups()
        return int(float(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])
    days, _, clock = value.rpartition("-") if "-" in value else ("0", "", value)
    parts = clock.split(":")
    if not days.isdigit() or not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise ValueError(f"time {text!r} is not a duration like 90 (minutes), 1:30:00, 2h or 1-00:00:00")
    if len(parts) == 1:
        seconds = int(parts[0]) * 60  # a bare number is minutes, as in sbatch --time
    else:
        seconds = sum(int(p) * 60**i for i, p in enumerate(reversed(parts)))
    return int(days) * 86400 + seconds


def format_duration(seconds: int) -> str:
    """Seconds -> the D-HH:MM:SS form every scheduler accepts."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


class Resources(BaseModel):
    """Per-task resources. Targets translate these into their own syntax."""

    model_config = ConfigDict(extra="forbid")

    cpus: int = Field(1, ge=1, description="CPU cores per task")
    mem_mb: int | None = Field(None, ge=1, description="memory per task in MB")
    gpus: int = Field(0, ge=0, description="GPUs per task")
    gpu_type: str | None = None
    time_s: int | None = Field(None, ge=1, description="wall-clock limit per task in seconds")
    nodes: int = Field(1, ge=1)
    tasks_per_node: int = Field(1, ge=1)
    disk_mb: int | None = Field(None, ge=1)

    @field_validator("mem_mb", "disk_mb", mode="before")
    @classmethod
    def _size(cls, value):
        return None if value is None else parse_memory_mb(value)

    @field_validator("time_s", mode="before")
    @classmethod
    def _time(cls, value):
        return None if value is None else parse_duration_s(value)
