"""Builds he-tf's native libraries with CMake (see CMakeLists.txt).

Install with ``pip install --no-build-isolation -e .`` into an environment
that already has TensorFlow: the op library is compiled against the
TensorFlow that will load it, so the build must see that same installation.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


# One CMake build makes all three; listing each lets setuptools place (and,
# for editable installs, copy) every one. Only _core is a Python module.
PLAIN_LIBRARIES = {"he_tf._he_tf_ops": "_he_tf_ops.so", "he_tf.libhe_tf_core": "libhe_tf_core.so"}


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def get_ext_filename(self, fullname: str) -> str:
        if fullname in PLAIN_LIBRARIES:
            return str(Path(*fullname.split(".")[:-1], PLAIN_LIBRARIES[fullname]))
        return super().get_ext_filename(fullname)

    def build_extension(self, ext: Extension) -> None:
        if ext.name != "he_tf._core":
            return  # built together with he_tf._core
        output_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("HE_TF_BUILD_DIR", ROOT / "build" / "cmake"))
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DHE_TF_OUTPUT_DIR={output_dir}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        # Prefer the cmake and ninja installed next to this Python (the venv's).
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        subprocess.run(configure, check=True, env=env)
        build = ["cmake", "--build", str(build_dir), "--parallel", str(os.cpu_count() or 2)]
        subprocess.run(build, check=True, env=env)


setup(
    ext_modules=[CMakeExtension(name) for name in ("he_tf._core", *PLAIN_LIBRARIES)],
    cmdclass={"build_ext": CMakeBuild},
)
