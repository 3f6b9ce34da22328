#!/usr/bin/env bash
# Gradescope autograder setup: runs once when the autograder image is built.
# Upload a zip holding setup.sh, run_autograder and exercises/ (with exercise.toml,
# problem.grad per folder; solutions are not needed); Gradescope unpacks it to
# /autograder/source.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# From PyPI, or from a wheel you put in the zip: /autograder/source/gradcli-*.whl
if ls /autograder/source/gradcli-*.whl >/dev/null 2>&1; then
    /autograder/venv/bin/pip install /autograder/source/gradcli-*.whl
else
    /autograder/venv/bin/pip install gradcli
fi
