// The checks the generated bindings of the declared kernels make (binding/declared.cpp,
// scripts/gen-kernels.mjs): integer fields in their declared range, the declared array
// lengths, outputs apart, and inputs read apart from the outputs. Messages in the facade's
// format, naming the parameter, as the hand-written bindings' (args.hpp).
#pragma once

#include <napi.h>

#include <cstddef>
#include <string>
#include <vector>

#include "args.hpp"

namespace cimm_binding::shape {

// An array argument: its name and value (for errors) and its view.
template <typename T>
struct Array {
  const char* name;
  Napi::Value value;
  View<T> view;
};

// An integer field in [lo, hi] (a size: it bounds what the kernel allocates or reads).
inline std::size_t integer(Napi::Env env, Napi::Value value, const char* param, double lo, double hi) {
  return integer_in(env, value, param, lo, hi,
                    "an integer >= " + std::to_string(static_cast<long long>(lo)) +
                        " and <= " + std::to_string(static_cast<long long>(hi)));
}

template <typename T>
void non_empty(Napi::Env env, const Array<T>& a) {
  if (a.view.length == 0) fail(env, std::string("a non-empty ") + array_name<T>(), a.name, a.value);
}

template <typename T>
void length_is(Napi::Env env, const Array<T>& a, std::size_t n) {
  if (a.view.length != n) {
    fail(env, std::string("a ") + array_name<T>() + " of length " + std::to_string(n), a.name, a.value);
  }
}

// `a` has the length of `other`.
template <typename T, typename U>
void length_of(Napi::Env env, const Array<T>& a, const Array<U>& other) {
  same_length_as(env, a.view, other.view.length, other.name, a.name, a.value);
}

// `a` is M rows of `other`'s length d >= 1, M >= 1.
template <typename T, typename U>
void rows_of(Napi::Env env, const Array<T>& a, const Array<U>& other) {
  const std::size_t d = other.view.length;
  if (d == 0 || a.view.length == 0 || a.view.length % d != 0) {
    fail(env,
         std::string("a ") + array_name<T>() + " of M\xC3\x97" + std::to_string(d) + " values (M >= 1, " +
             std::to_string(d) + " the length of " + other.name + ")",
         a.name, a.value);
  }
}

// Two outputs may not share memory (the later one is named).
template <typename T, typename U>
void apart(Napi::Env env, const Array<T>& first, const Array<U>& second) {
  if (overlap(first.view, second.view)) {
    fail(env, std::string("a ") + array_name<U>() + " that does not overlap " + first.name, second.name, second.value);
  }
}

// The input's data, or a copy kept in `keep` when it overlaps one of the outputs: the core
// never reads an element an output write may already have changed.
template <typename T, typename... Out>
const T* input(const Array<T>& in, std::vector<T>& keep, const Array<Out>&... outputs) {
  if (!(overlap(in.view, outputs.view) || ...)) return in.view.data;
  keep.assign(in.view.data, in.view.data + in.view.length);
  return keep.data();
}

}  // namespace cimm_binding::shape
