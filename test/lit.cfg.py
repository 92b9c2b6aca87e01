# lit configuration of the quant-opt tests.
#
# Parameters (lit -D NAME=VALUE):
#   verify_roundtrip=1  run every quant-opt invocation with --verify-roundtrip
#                       (generic-form and bytecode round trips of the input);
#                       %quant-opt-print always runs without it.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quant_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit",
                   "Inputs", "reference"]

llvm_config.use_default_substitutions()
# FileCheck, not, count, split-file come from llvm-22-tools.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

quant_opt_args = []
if lit_config.params.get("verify_roundtrip", "0") not in ("0", "", "false"):
    quant_opt_args.append("--verify-roundtrip")

tool_dirs = [config.quant_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("quant-opt", extra_args=quant_opt_args, unresolved="fatal"),
    ToolSubst("quant-translate", unresolved="fatal"),
    ToolSubst("quant-run", unresolved="fatal"),
    ToolSubst("qrt-tokenize", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# quant-opt without --verify-roundtrip, for printing options that change what
# a round trip reproduces (eliding weight blobs).
config.substitutions.append(
    ("%quant-opt-print", os.path.join(config.quant_tools_dir, "quant-opt")))

# Python with Debian's python3-onnx and python3-numpy.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%quant_src", config.quant_src_root))
config.substitutions.append(("%quant_build", config.quant_obj_root))
config.substitutions.append(("%quant_bin", config.quant_tools_dir))

# Shared test data (../shared/data beside the checkout, or $QUANT_DATA_DIR).
# Tests that need it say `REQUIRES: shared-data`; outside CI they are skipped
# when it is absent, under CI=true its absence is an error.
in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
data_dir = os.environ.get(
    "QUANT_DATA_DIR",
    os.path.join(os.path.dirname(config.quant_src_root), "shared", "data"))
config.substitutions.append(("%quant_data", data_dir))
if os.path.isdir(os.path.join(data_dir, "models")):
    config.available_features.add("shared-data")
elif in_ci:
    lit_config.fatal("shared test data not found at %s (set QUANT_DATA_DIR)" % data_dir)

# onnxruntime-node, installed by tools/scripts/install-deps.sh into the build
# tree. Tests that need it say `REQUIRES: onnxruntime`.
node_modules = os.path.join(config.quant_obj_root, "npm", "node_modules")
if os.path.isdir(os.path.join(node_modules, "onnxruntime-node")):
    config.available_features.add("onnxruntime")
    config.environment["NODE_PATH"] = node_modules
elif in_ci:
    lit_config.fatal("onnxruntime-node not found in %s (run tools/scripts/install-deps.sh)"
                     % node_modules)

# NVRTC (the CUDA toolkit's runtime compiler), which exporting a target=cuda
# plan loads. Tests that need it say `REQUIRES: nvrtc`; the CI machine has
# the toolkit, so under CI=true its absence is an error. No test here needs
# a GPU.
def find_nvrtc():
    explicit = os.environ.get("QUANT_NVRTC")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and os.path.exists(os.path.join(home, "lib64", "libnvrtc.so")):
            return os.path.join(home, "lib64", "libnvrtc.so")
    return None

nvrtc = find_nvrtc()
if nvrtc:
    config.available_features.add("nvrtc")
    config.environment["QUANT_NVRTC"] = nvrtc
elif in_ci:
    lit_config.fatal("NVRTC (libnvrtc.so of the CUDA toolkit) not found (set QUANT_NVRTC)")
for variable in ("CUDA_HOME", "CUDA_PATH"):
    if variable in os.environ:
        config.environment[variable] = os.environ[variable]

# The Python package (python/CMakeLists.txt: built when pybind11 is found, as
# install-deps.sh installs it) and Debian's pytest. Tests that need them say
# `REQUIRES: python-package`; under CI=true their absence is an error.
import glob
import subprocess
python_package = os.path.join(config.quant_obj_root, "python", "quant_opt")
have_pytest = subprocess.run(["/usr/bin/python3", "-c", "import pytest"],
                             capture_output=True).returncode == 0
if glob.glob(os.path.join(python_package, "_runtime*.so")) and have_pytest:
    config.available_features.add("python-package")
elif in_ci:
    lit_config.fatal("the Python package (%s) or pytest is missing (run "
                     "tools/scripts/install-deps.sh, then build)" % python_package)

# PyTorch (Debian's python3-torch, CPU), which writes the torch.onnx.export
# fixtures of the real-export import tests. Tests that need it say
# `REQUIRES: torch`; under CI=true its absence is an error.
if subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                  capture_output=True).returncode == 0:
    config.available_features.add("torch")
elif in_ci:
    lit_config.fatal("python3-torch is missing (run tools/scripts/install-deps.sh)")

# Open MPI (tools/scripts/install-deps.sh installs it) and a quant-run built
# with it run tensor-parallel plans: `%mpirun N quant-run PLAN ...` starts N
# ranks (oversubscribing the cores is fine; as root, Open MPI needs its
# consent variables). Tests that need it say `REQUIRES: mpi`; under CI=true
# its absence is an error.
import shutil
mpirun = shutil.which("mpirun")
quant_mpi = getattr(config, "quant_have_mpi", "OFF") in ("ON", "1", "TRUE")
if mpirun and quant_mpi:
    config.available_features.add("mpi")
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # No network probing for one machine's ranks.
    config.environment["OMPI_MCA_btl"] = "self,vader"
    config.substitutions.append(
        ("%mpirun", "%s --oversubscribe --bind-to none -np" % mpirun))
elif in_ci:
    lit_config.fatal("mpirun or an MPI build of quant-run is missing (run "
                     "tools/scripts/install-deps.sh and build again)")
