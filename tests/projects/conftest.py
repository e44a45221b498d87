"""The folders here are fixture projects that freight analyzes, not tests to run."""

collect_ignore_glob = ["*"]
