// What the async entry points of the binding (native/src/binding/) share: the abort flag JS raises, and a worker
// that runs a kernel on libuv's thread pool and settles a promise.
//
// Memory: an async entry point copies its typed-array inputs into memory the worker owns
// (std::vector, or a typed array it creates itself and hands to JS only in OnOK) before it
// queues the work, on the JS thread during the call. While Execute runs, nothing it touches
// is reachable from JS, so JS may detach, transfer, resize or overwrite the arguments.
//
// Abort: lib/backends/native.ts creates one AbortFlag per call, raises it when the call's
// AbortSignal fires and rejects the promise at once; the worker checks the flag before it
// starts (a queued worker then skips its work) and the kernel between work units (stop.hpp).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "args.hpp"
#include "stop.hpp"

namespace cimm_binding {

// A flag shared by one async call and its worker: raised from JS, read by the kernel. Its
// objects carry a type tag, so that no other wrapped object is taken for one.
class AbortFlag : public Napi::ObjectWrap<AbortFlag> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AbortFlag", {InstanceMethod<&AbortFlag::Raise>("raise")});
  }

  explicit AbortFlag(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<AbortFlag>(info), flag_(std::make_shared<cimm::StopFlag>(false)) {
    napi_type_tag_object(info.Env(), info.This(), &kTag);
  }

  // The flag of `value`, or nullptr when it is not an AbortFlag.
  static std::shared_ptr<cimm::StopFlag> Of(Napi::Env env, Napi::Value value) {
    bool tagged = false;
    if (!value.IsObject() || napi_check_object_type_tag(env, value, &kTag, &tagged) != napi_ok || !tagged) {
      return nullptr;
    }
    return Unwrap(value.As<Napi::Object>())->flag_;
  }

 private:
  void Raise(const Napi::CallbackInfo&) { flag_->store(true, std::memory_order_relaxed); }

  static constexpr napi_type_tag kTag = {0x63696d6d61626f72ULL, 0x74666c6167763031ULL};
  std::shared_ptr<cimm::StopFlag> flag_;
};

// Runs `compute` on libuv's pool and settles a promise: resolved with `convert()` (on the JS
// thread) when compute returns true, rejected when it returns false (stopped: the facade has
// already rejected the call with an AbortError) or throws. Owns whatever the two callables
// capture until it is deleted, after OnOK/OnError.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const char* name, std::shared_ptr<cimm::StopFlag> stop, std::function<bool()> compute,
               std::function<Napi::Value(Napi::Env)> convert)
      : Napi::AsyncWorker(env, name),
        name_(name),
        stop_(std::move(stop)),
        compute_(std::move(compute)),
        convert_(std::move(convert)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  // Queues the worker (which deletes itself once settled) and returns its promise.
  static Napi::Promise Start(KernelWorker* worker) {
    const Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      if (cimm::raised(stop_.get()) || !compute_()) SetError(std::string("cimm: ") + name_ + " was aborted");
    } catch (const std::exception& e) {
      SetError(std::string("cimm cpp backend: ") + e.what());
    } catch (...) {
      SetError("cimm cpp backend: unknown native exception");
    }
  }

  void OnOK() override {
    try {
      deferred_.Resolve(convert_(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* name_;
  std::shared_ptr<cimm::StopFlag> stop_;
  std::function<bool()> compute_;
  std::function<Napi::Value(Napi::Env)> convert_;
  Napi::Promise::Deferred deferred_;
};

// The AbortFlag argument of an async entry point (read with the scalars: no JS runs).
inline std::shared_ptr<cimm::StopFlag> abort_flag(Napi::Env env, Napi::Value value) {
  auto flag = AbortFlag::Of(env, value);
  if (!flag) fail(env, "an AbortFlag", "flag", value);
  return flag;
}

// The most elements of a result array: V8's typed-array limit on 64-bit Node 20 (2^32).
constexpr std::size_t kMaxResultLength = std::size_t{1} << (sizeof(std::size_t) >= 8 ? 32 : 28);

// A new zeroed typed array of `count` elements of T (Array: Napi::Float32Array or
// Napi::Float64Array) for a worker to fill. Its memory comes from calloc, so memory that
// cannot be had is an error naming `param` (napi_create_arraybuffer would abort the process
// instead: V8 treats that allocation failure as fatal); a count above kMaxResultLength is one
// too. Where external buffers are not allowed, V8 allocates it as before.
template <typename Array, typename T>
Array new_result(Napi::Env env, std::size_t count, const std::string& what, const std::string& param,
                 Napi::Value value) {
  if (count > kMaxResultLength) fail(env, what, param, value);
  if (count == 0) return Array::New(env, 0);
  void* data = std::calloc(count, sizeof(T));
  if (data == nullptr) fail(env, what, param, value);
  napi_value buffer = nullptr;
  const napi_status status = napi_create_external_arraybuffer(
      env, data, count * sizeof(T), [](napi_env, void* memory, void*) { std::free(memory); }, nullptr, &buffer);
  if (status != napi_ok) {
    std::free(data);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return Array::New(env, count);
  }
  return Array::New(env, count, Napi::ArrayBuffer(env, buffer), 0);
}

// A typed array the worker writes and hands to JS in OnOK; until then only the worker holds
// it, so no JS code can detach or resize it.
template <typename Array>
std::shared_ptr<Napi::ObjectReference> owned_result(Array array) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(static_cast<Napi::Object>(array)));
}

}  // namespace cimm_binding
