#!/bin/sh
# Makes sure VENV is a working virtualenv (python and pip run in it), creating it or making it
# again when an earlier attempt left it half-made; `make` then installs Opsflow into it.
# Usage: sh tools/venv.sh VENV   (the Python to use comes from $PYTHON, default python3)
set -u
venv=${1:?usage: tools/venv.sh VENV}
python=${PYTHON:-python3}

if ! command -v "$python" >/dev/null 2>&1; then
  echo "Cannot create $venv: $python was not found; install Python 3.11 or newer (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or name one with 'make PYTHON=python3.12 ...'." >&2
  exit 2
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Cannot create $venv: Opsflow needs Python 3.11 or newer and $python is $("$python" -V 2>&1); install a newer one and name it with 'make PYTHON=python3.11 ...' (or newer)." >&2
  exit 2
fi

# A folder left by a failed `python3 -m venv` (no python3-venv), by a Python upgrade that broke
# its interpreter link, or by an interrupted install has no working pip: start it again.
if [ -e "$venv" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "$venv is incomplete (its python or pip does not run); making it again."
  rm -rf "$venv"
fi
if [ -e "$venv" ]; then
  exit 0
fi

log=$(mktemp)
if ! "$python" -m venv "$venv" >"$log" 2>&1 || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
  if grep -q -i -e ensurepip -e "python3-venv" -e "No module named venv" "$log"; then
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "Cannot create $venv: $python cannot make virtualenvs because its venv/ensurepip part is not installed; on Debian/Ubuntu run 'sudo apt-get install python3-venv python$version-venv', then run make again." >&2
  else
    echo "Cannot create $venv with '$python -m venv' (its output follows); fix that, then run make again." >&2
    cat "$log" >&2
  fi
  rm -f "$log"
  exit 2
fi
rm -f "$log"
