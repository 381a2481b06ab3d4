#!/usr/bin/env bash
# Creates bench/.venv with the reference libraries the training benchmark compares against:
# implicit (ALS) and lightfm (WARP), on pinned numpy/scipy. Idempotent: does nothing when the venv already holds
# exactly these pins. Needs python3 (3.11 here) with venv, a C compiler and network access to PyPI only.
#
# lightfm 1.17 is an sdist whose setup.py does `__builtins__.__LIGHTFM_SETUP__ = True`, which fails under any
# PEP 517 build (setuptools' build_meta exec()s setup.py with a dict as __builtins__; lyst/lightfm#687). It builds
# with the legacy `setup.py bdist_wheel` path instead: pip < 25.3 with --no-use-pep517 and --no-build-isolation,
# setuptools and wheel preinstalled. Its generated C files are in the sdist, so no Cython is needed; gcc's
# -fopenmp gives the multi-threaded (OpenMP) build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${BENCH_VENV:-$(cd "$here/.." && pwd)/.venv}"
python="${PYTHON:-python3}"

# Build tooling first (pip must stay below 25.3, which removed the legacy build path lightfm needs).
build_pins=(pip==25.2 setuptools==65.5.0 wheel==0.45.1)
pins=(numpy==2.2.6 scipy==1.17.1 threadpoolctl==3.8.0 tqdm==4.70.1 implicit==0.7.3)
# Installed with --no-deps: its other requirements (requests, scikit-learn) serve only lightfm.datasets/.data.
lightfm_pin=lightfm==1.17
stamp_text="${build_pins[*]} ${pins[*]} $lightfm_pin"
stamp="$venv/.reference-pins"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$stamp_text" ]] &&
  "$venv/bin/python" -c 'import implicit.cpu.als, lightfm, numpy, scipy' 2>/dev/null; then
  echo "reference venv up to date: $venv"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${pip[@]}" install --quiet "${build_pins[@]}"
"${pip[@]}" install --quiet "${pins[@]}"
"${pip[@]}" install --quiet --no-deps --no-build-isolation --no-use-pep517 "$lightfm_pin"

"$venv/bin/python" - <<'EOF'
import importlib.util
import implicit, lightfm, numpy, scipy
if importlib.util.find_spec("lightfm._lightfm_fast_openmp") is None:
    raise SystemExit("lightfm was built without OpenMP: multi-threaded timings would be meaningless")
print(f"implicit {implicit.__version__}, lightfm {lightfm.__version__}, "
      f"numpy {numpy.__version__}, scipy {scipy.__version__}")
EOF
echo "$stamp_text" >"$stamp"
echo "reference venv ready: $venv"
