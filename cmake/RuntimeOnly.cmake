# The AWQC_RUNTIME_ONLY build: runtime/, tools/awq-gpu-check and
# examples/c-api, for a GPU machine with the CUDA toolkit, CMake and a C++17
# compiler but without MLIR/LLVM, GTest, Google Benchmark, BLAS or Boost
# (scripts/gpu-check). Included from the top-level CMakeLists.txt, which
# returns right after it.

# lld only when the machine has it: the GPU machine may not.
find_program(AWQC_LLD NAMES ld.lld)
if(AWQC_LLD)
  add_link_options(-fuse-ld=lld)
endif()
# CMake's CUDA::nvrtc drags in the driver stub (libcuda.so); the runtime
# opens the driver with dlopen, so without --as-needed (clang's default, not
# Debian's GCC's) a binary would need libcuda.so.1 just to start and could
# not report "no GPU" (exit 77).
add_link_options(-Wl,--as-needed)

# nlohmann_json: from AWQC_NLOHMANN_INCLUDE_DIR (a directory holding
# nlohmann/json.hpp, or the nlohmann directory itself) when given, else the
# installed package.
if(AWQC_NLOHMANN_INCLUDE_DIR)
  get_filename_component(dir "${AWQC_NLOHMANN_INCLUDE_DIR}" ABSOLUTE)
  if(EXISTS "${dir}/nlohmann/json.hpp")
    set(AWQC_NLOHMANN_ROOT "${dir}")
  elseif(EXISTS "${dir}/json.hpp")
    get_filename_component(AWQC_NLOHMANN_ROOT "${dir}" DIRECTORY)
  else()
    message(FATAL_ERROR "AWQC_NLOHMANN_INCLUDE_DIR=${AWQC_NLOHMANN_INCLUDE_DIR}"
      " holds neither nlohmann/json.hpp nor json.hpp")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${AWQC_NLOHMANN_ROOT}")
  message(STATUS "nlohmann_json from ${AWQC_NLOHMANN_ROOT}")
else()
  find_package(nlohmann_json 3.11 REQUIRED)
endif()
find_package(CUDAToolkit REQUIRED)
find_package(Threads REQUIRED)

message(STATUS "AWQC_RUNTIME_ONLY: runtime, awq-gpu-check and the C example "
  "only (no MLIR/LLVM, GTest, benchmark, BLAS, Boost; no host device)")
add_subdirectory(runtime)
add_subdirectory(tools/awq-gpu-check)
add_subdirectory(examples/c-api)
