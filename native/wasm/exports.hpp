// The C ABI of the WebAssembly build, shared by its family files (native/wasm/<family>.cpp,
// one per family of docs/theory.md, as lib/backends/wasm/<family>.ts on the TS side): the C++
// core of native/src behind entry points of pointers into linear memory, lengths and numbers.
// The JS glue checks every argument (types, lengths, overlaps, the same messages as the
// Node-API binding) and copies the typed arrays into a scratch arena in linear memory before
// the call, so nothing here validates again; a call never reads or writes outside the arena
// regions the glue handed it. The kernels whose tensors are f32 or f64 (lib/kernels.ts, Real)
// have a second entry point with the suffix _f64 on the core's double overloads; the glue
// picks one by the dtype of the call's deciding array, as the binding's by_dtype does.
// Compiled without exceptions: an allocation failure traps (abort), which the glue turns into
// an Error and answers by starting a new instance.
#pragma once

#include <cstddef>

#define CIMM_EXPORT(name) extern "C" __attribute__((export_name(#name)))
