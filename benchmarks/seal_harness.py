"""Builds and starts ``he_tf_seal_bench``, the raw-SEAL C++ baseline (csrc/bench/seal_loop.cc)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = ROOT / "build" / "bench"
EXECUTABLE = "he_tf_seal_bench"


def _tool_env() -> dict[str, str]:
    # The venv's cmake and ninja, as setup.py uses them.
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def build(build_dir: Path = DEFAULT_BUILD_DIR) -> Path:
    """Configures (once) and incrementally builds the harness in ``build_dir``; returns its path.

    A separate build tree from the package's (build/cmake), so benchmarking
    never disturbs an install. SEAL comes from the same cache as the package build.
    """
    out_dir = build_dir / "out"
    exe = out_dir / EXECUTABLE
    env = _tool_env()
    quiet = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if not (build_dir / "CMakeCache.txt").exists():
        print(f"configuring the SEAL baseline in {build_dir} (first run only)", file=sys.stderr)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}", f"-DHE_TF_OUTPUT_DIR={out_dir}",
        ]
        done = subprocess.run(configure, **quiet)
        if done.returncode != 0:
            raise RuntimeError(f"cmake configure failed:\n{done.stdout}")
    done = subprocess.run(["cmake", "--build", str(build_dir), "--target", EXECUTABLE], **quiet)
    if done.returncode != 0:
        if not exe.exists():
            raise RuntimeError(f"building {EXECUTABLE} failed:\n{done.stdout}")
        print(f"warning: rebuilding {EXECUTABLE} failed; using the existing {exe}", file=sys.stderr)
    return exe


def serve_command(exe: Path, params: dict, ops: Sequence[str], count: int, warmup: int, threads: int,
                  step: int) -> list[str]:
    """The command line of a harness in ``--serve`` mode with these parameters."""
    return [
        str(exe), "--serve",
        f"--poly_modulus_degree={params['poly_modulus_degree']}",
        f"--coeff_mod_bit_sizes={','.join(str(b) for b in params['coeff_mod_bit_sizes'])}",
        f"--scale_bits={params['scale_bits']}",
        f"--op={','.join(ops)}", f"--count={count}", f"--warmup={warmup}", f"--threads={threads}",
        f"--step={step}",
    ]
