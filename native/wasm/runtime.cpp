// What the C++ runtime of a module without threads lacks: libc++abi for wasm32-wasi has no
// __cxa_thread_atexit, which thread_local objects with destructors (the GEMM's packing buffers)
// register with. The module's one thread never exits, so there is nothing to run: accept the
// registration and drop it.
extern "C" int __cxa_thread_atexit(void (*)(void*), void*, void*) { return 0; }
