// The kernel skeleton: every op that takes a public context is a REGISTER_OP
// plus one plan function. Kernel<plan>::Compute reads the context, calls the
// plan (which checks this call's inputs and attributes and binds the work of
// one output element), allocates output 0 and runs the elements on TF's CPU
// worker threads. Example and rules: docs/architecture.md, "Kernels".
//
// A plan throws std::invalid_argument for a bad input (the op's name is put
// in front of the message) or StatusError for a status worded in full; so do
// the element functions, on any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "tensorflow/core/framework/node_def_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tf/kernel_util.h"

namespace he_tf {

// What a plan sees of one call: the context, the inputs and the attributes.
// Everything it returns lives until the call ends, so elements may refer to it.
class Call {
 public:
  Call(tensorflow::OpKernelContext* ctx, const PublicContext& pc) : ctx_(ctx), pc_(pc) {}

  tensorflow::OpKernelContext* ctx() const { return ctx_; }
  const PublicContext& pc() const { return pc_; }
  const tensorflow::Tensor& Input(const char* name) const {
    const tensorflow::Tensor* t;
    Check(ctx_->input(name, &t));
    return *t;
  }
  // Input `name`, which must be a variant tensor (of ciphertexts, checked per element).
  const tensorflow::Tensor& Ciphertexts(const char* name) const {
    const tensorflow::Tensor& t = Input(name);
    Check(CheckCiphertextInput(ctx_, t, name));
    return t;
  }
  double Scalar(const char* name) const {
    const tensorflow::Tensor& t = Input(name);
    if (t.NumElements() != 1) throw std::invalid_argument(std::string(name) + " must be a scalar");
    return t.flat<double>()(0);
  }
  // The secret key input.
  const SecretKey& secret_key() const {
    const SecretKeyVariant* secret;
    Check(GetScalarVariant(ctx_, "secret_key", &secret));
    return *secret->get();
  }
  // An attribute of the op (a map lookup per call, nothing per element).
  template <class T>
  T Attr(const char* name) const {
    T value;
    Check(tensorflow::GetNodeAttr(ctx_->op_kernel().def(), name, &value));
    return value;
  }

 private:
  tensorflow::OpKernelContext* ctx_;
  const PublicContext& pc_;
};

// One call's work: output 0 has `shape`; `write(i, out + i * row)` fills the
// output of element i for i in [0, count), at `cost` cycles per element.
template <class Out, class Write>
struct Plan {
  using Output = Out;
  tensorflow::TensorShape shape;
  std::int64_t count, row, cost;
  Write write;
};

template <class Out, class Write>
Plan<Out, Write> MakePlan(tensorflow::TensorShape shape, std::int64_t count, std::int64_t row, std::int64_t cost,
                          Write write) {
  return {std::move(shape), count, row, cost, std::move(write)};
}

// Output element i of `shape` = f(i): a seal::Ciphertext (tagged with the
// context's key set), a tensorflow::Variant, or a std::string (a string output).
template <class F>
auto EachElement(const Call& call, tensorflow::TensorShape shape, std::int64_t cost, F f) {
  using R = std::invoke_result_t<const F&, std::int64_t>;
  const std::int64_t n = shape.num_elements();
  if constexpr (std::is_same_v<R, seal::Ciphertext>) {
    return MakePlan<tensorflow::Variant>(std::move(shape), n, 1, cost,
                                         [&pc = call.pc(), f = std::move(f)](std::int64_t i, tensorflow::Variant* out) {
                                           *out = Wrap(pc, f(i));
                                         });
  } else if constexpr (std::is_same_v<R, std::string>) {
    return MakePlan<tensorflow::tstring>(std::move(shape), n, 1, cost,
                                         [f = std::move(f)](std::int64_t i, tensorflow::tstring* out) { *out = f(i); });
  } else {
    return MakePlan<tensorflow::Variant>(std::move(shape), n, 1, cost,
                                         [f = std::move(f)](std::int64_t i, tensorflow::Variant* out) { *out = f(i); });
  }
}

// Output element i = f(ciphertext i of `a`) or f(ciphertext i, i), in a's shape.
template <class F>
auto MapCiphertexts(const Call& call, const tensorflow::Tensor& a, std::int64_t cost, F f) {
  return EachElement(call, a.shape(), cost, [&a, &pc = call.pc(), f = std::move(f)](std::int64_t i) {
    if constexpr (std::is_invocable_v<const F&, const seal::Ciphertext&, std::int64_t>) {
      return f(CiphertextAt(a, i).Get(pc), i);
    } else {
      return f(CiphertextAt(a, i).Get(pc));
    }
  });
}

// Output [outer..., n] of T: f(i, row) fills the n values of row i.
template <class T, class F>
auto EachRow(tensorflow::TensorShape outer, std::int64_t n, std::int64_t cost, F f) {
  const std::int64_t count = outer.num_elements();
  outer.AddDim(n);
  return MakePlan<T>(std::move(outer), count, n, cost, std::move(f));
}

// Output element i = f(row i, n) for input `name` of shape [outer..., n] of T.
template <class T, class F>
auto EachInputRow(const Call& call, const char* name, std::int64_t cost, F f) {
  const tensorflow::Tensor& values = call.Input(name);
  if (values.dims() < 1) throw std::invalid_argument("values must have rank >= 1 (the slot axis last)");
  tensorflow::TensorShape outer = values.shape();
  const std::int64_t n = outer.dim_size(outer.dims() - 1);
  outer.RemoveLastDims(1);
  return EachElement(call, std::move(outer), cost, [in = values.flat<T>().data(), n, f = std::move(f)](std::int64_t i) {
    return f(in + i * n, static_cast<std::size_t>(n));
  });
}

// The OpKernel of a plan function: the prologue every kernel shares.
template <auto kPlan>
class Kernel : public tensorflow::OpKernel {
 public:
  explicit Kernel(tensorflow::OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(tensorflow::OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Call call(ctx, *context->get());
    std::optional<decltype(kPlan(call))> plan;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] { plan.emplace(kPlan(call)); }));
    tensorflow::Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, plan->shape, &out));
    using Out = typename decltype(kPlan(call))::Output;
    Out* base = out->flat<Out>().data();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, plan->count, plan->cost,
                                        [&](std::int64_t i) { plan->write(i, base + i * plan->row); }));
  }
};

#define HE_REGISTER_KERNEL(op) REGISTER_KERNEL_BUILDER(Name(#op).Device(tensorflow::DEVICE_CPU), ::he_tf::Kernel<op>)

}  // namespace he_tf
