# The GEMM kernel family's tests, included by test/unit/device/CMakeLists.txt:
# the awq/mma.cuh wrappers and shared-memory swizzle, NVRTC builds of the
# planned (and chosen extreme) tilings for sm_80/86/89/90 with zero spills,
# and host-emulated runs against the fp64 reference. The GEMM weight layout
# and the planner are tested in test/unit/kernels.
awqc_add_unittest(gemm_device_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/GemmNvrtcTest.cpp
    ${CMAKE_CURRENT_LIST_DIR}/GemmPrimitivesTest.cpp
    ${CMAKE_CURRENT_LIST_DIR}/GemmHostTest.cpp
  LIBS awq_kernels awq_nvrtc awq_host_executor awq_reference Boost::context)
# GemmPrimitivesTest and GemmHostTest include the device library on the host,
# whose `#pragma unroll`s only the CUDA compilers know.
target_include_directories(gemm_device_tests PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_compile_options(gemm_device_tests PRIVATE -Wno-unknown-pragmas)
target_compile_definitions(gemm_device_tests PRIVATE
  AWQ_GEMM_TEST_CACHE_DIR="${CMAKE_CURRENT_BINARY_DIR}/gemm-host-cache")
