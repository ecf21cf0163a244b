// Force-included into the MLIR-side C++ of an AWQC_SANITIZE build.
//
// LLVM's headers poison and unpoison BumpPtrAllocator slabs and recycler
// entries by hand when the including code is compiled with ASan
// (LLVM_ADDRESS_SANITIZER_BUILD, llvm/Support/Compiler.h). The prebuilt
// libLLVM/libMLIR were not, so their copies of the same inline functions
// (the linker keeps one copy of each, from either side) allocate from a slab
// without unpoisoning it and our copies then report use-after-poison inside
// MLIR's own allocations (e.g. MLIRContext construction). Making the manual
// (un)poisoning a no-op here gives every copy the library's behaviour; ASan
// still checks all heap, stack and global accesses of our code.
#ifndef AWQC_SANITIZE_LLVM_HEADERS_H
#define AWQC_SANITIZE_LLVM_HEADERS_H
#include <sanitizer/asan_interface.h>
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#define __asan_unpoison_memory_region(p, size) ((void)(p), (void)(size))
#endif
