# The GEMM kernel family's host side (weight repacking, tiling, kernel
# source): included by compiler/repack/CMakeLists.txt into awq_repack.
list(APPEND AWQ_REPACK_GEMM_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/RepackGemm.cpp
)
# repackGemm splits large layers over a few std::threads.
target_link_libraries(awq_repack PUBLIC Threads::Threads)
