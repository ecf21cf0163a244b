# lit configuration of awqc's FileCheck suite.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "AWQ"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".json", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.awq_obj_root

config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

llvm_config.use_default_substitutions()
# lit passes ASAN_OPTIONS/UBSAN_OPTIONS through itself; LSAN_OPTIONS and the
# kernel cache directories (.ci/sanitize sets both caches) are passed too.
llvm_config.with_system_environment(
    ["LSAN_OPTIONS", "AWQ_HOST_CACHE_DIR", "AWQC_CACHE_DIR"])
llvm_config.with_environment("PATH", config.awq_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tools = ["awq-opt", "awq-translate", "awqc", "awq-run", "awq-kernel-stats",
         "awq-gpu-check"]
llvm_config.add_tool_substitutions(
    [t for t in tools if os.path.exists(os.path.join(config.awq_tools_dir, t))],
    [config.awq_tools_dir])
config.substitutions.append(("%awq_src", config.awq_src_root))
