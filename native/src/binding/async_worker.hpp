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

// A typed array the worker writes and hands to JS in OnOK; until then only the worker holds
// it, so no JS code can detach or resize it.
template <typename Array>
std::shared_ptr<Napi::ObjectReference> owned_result(Array array) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(static_cast<Napi::Object>(array)));
}

}  // namespace cimm_binding
