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
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quant_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit"]

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
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# quant-opt without --verify-roundtrip, for printing options that change what
# a round trip reproduces (eliding weight blobs).
config.substitutions.append(
    ("%quant-opt-print", os.path.join(config.quant_tools_dir, "quant-opt")))
