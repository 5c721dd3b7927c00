// The module's runtime: the scratch arena the glue stages arrays in (lib/backends/wasm/core.ts),
// and what the C++ runtime of a module without threads lacks.
#include <cstddef>
#include <cstdlib>

#include "exports.hpp"

// One block, regrown by the glue when a call needs more (16-byte aligned for the f32x4 paths).
CIMM_EXPORT(cimm_alloc) void* cimm_alloc(std::size_t bytes) { return std::aligned_alloc(16, (bytes + 15) / 16 * 16); }
CIMM_EXPORT(cimm_free) void cimm_free(void* p) { std::free(p); }

// libc++abi for wasm32-wasi has no __cxa_thread_atexit, which thread_local objects with
// destructors (the GEMM's packing buffers) register with. The module's one thread never exits,
// so there is nothing to run: accept the registration and drop it.
extern "C" int __cxa_thread_atexit(void (*)(void*), void*, void*) { return 0; }
