#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (written by
# `gradcli bundle gradescope`). It installs gradcli from the wheel in tools/ into a
# virtual environment; only numpy, lark, click and rich come from PyPI.
# gradcli needs Python 3.11 or newer with venv: the image's python3 if it is one, else
# apt's python3-venv (Ubuntu 24.04: 3.12), else apt's python3.11 (Ubuntu 22.04, whose
# python3 is 3.10). GRADCLI_AUTOGRADER_ROOT replaces /autograder (to try the bundle on
# another machine).
set -euo pipefail
root="${GRADCLI_AUTOGRADER_ROOT:-/autograder}"

find_python() {  # the first Python 3.11+ that can make a virtual environment
    for py in python3 python3.13 python3.12 python3.11; do
        if command -v "$py" >/dev/null 2>&1 \
            && "$py" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" || true
}

if ! python=$(find_python); then
    apt-get update -q || true
    apt_install python3 python3-venv
    python=$(find_python) || { apt_install python3.11 python3.11-venv; python=$(find_python); } || {
        echo "setup.sh: gradcli needs Python 3.11 or newer with venv, and apt could not install one;" \
             "choose Ubuntu 22.04 or newer as the autograder's base image" >&2
        exit 1
    }
fi
echo "setup.sh: $python is $("$python" --version)"
"$python" -m venv "$root/venv"
cd "$root/source"     # tools/requirements.txt names the wheel relative to this folder
"$root/venv/bin/python" -m pip install -r tools/requirements.txt
"$root/venv/bin/gradcli" --version
