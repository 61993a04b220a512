// Shared plumbing for he-tf kernels: typed access to variant inputs and a
// parallel loop that turns exceptions into statuses (no SEAL exception may
// escape a kernel).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/variant.h"
#include "tf/variants.h"

namespace he_tf {

// Rough cost of one element in CPU cycles, for TF's shard planner. HE work on
// one ciphertext is 10^5..10^8 cycles, so any estimate here means "shard fully".
inline constexpr std::int64_t kCiphertextCost = 10'000'000;

// Reads scalar variant input `name` as T; fails with a message naming the op.
template <class T>
absl::Status GetScalarVariant(tensorflow::OpKernelContext* ctx, const char* name, const T** out) {
  const tensorflow::Tensor* t;
  TF_RETURN_IF_ERROR(ctx->input(name, &t));
  if (t->dtype() != tensorflow::DT_VARIANT || t->dims() != 0) {
    return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": input '" + name +
                                      "' must be a scalar variant holding " + T::kTypeName + ", got shape " +
                                      t->shape().DebugString());
  }
  const T* v = t->scalar<tensorflow::Variant>()().get<T>();
  if (v == nullptr || v->get() == nullptr) {
    return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": input '" + name + "' must hold " +
                                      T::kTypeName + ", got " + t->scalar<tensorflow::Variant>()().TypeName());
  }
  *out = v;
  return absl::OkStatus();
}

// Element i of a variant tensor as a ciphertext; throws std::invalid_argument otherwise.
inline const CiphertextVariant& CiphertextAt(const tensorflow::Tensor& t, std::int64_t i) {
  const tensorflow::Variant& v = t.flat<tensorflow::Variant>()(i);
  const CiphertextVariant* ct = v.get<CiphertextVariant>();
  if (ct == nullptr) {
    throw std::invalid_argument(std::string("expected he_tf ciphertexts, but an element holds '") + v.TypeName() +
                                "'; pass the .ciphertexts of an HETensor");
  }
  return *ct;
}

inline absl::Status CheckCiphertextInput(tensorflow::OpKernelContext* ctx, const tensorflow::Tensor& t,
                                         const char* name) {
  if (t.dtype() != tensorflow::DT_VARIANT) {
    return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": input '" + name +
                                      "' must be a variant tensor of he_tf ciphertexts");
  }
  return absl::OkStatus();
}

// Runs fn(i) for i in [0, n) on TF's CPU worker threads. The first exception
// thrown becomes an InvalidArgument status prefixed with the op's name.
inline absl::Status ParallelForEach(tensorflow::OpKernelContext* ctx, std::int64_t n, std::int64_t cost_per_element,
                                    const std::function<void(std::int64_t)>& fn) {
  std::mutex mu;
  std::string first_error;
  auto run = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      try {
        fn(i);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.empty()) first_error = e.what();
        return;
      }
    }
  };
  if (n == 1) {
    run(0, 1);
  } else if (n > 1) {
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(n, cost_per_element, run);
  }
  if (first_error.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": " + first_error);
}

// A result ciphertext tagged with the context's key set.
inline tensorflow::Variant Wrap(const PublicContext& pc, seal::Ciphertext ct) {
  return CiphertextVariant(pc.key_id(), std::move(ct));
}

// NumPy broadcasting of `a` and `b` (right-aligned); fails naming both shapes.
absl::Status BroadcastShapes(const tensorflow::TensorShape& a, const tensorflow::TensorShape& b,
                             tensorflow::TensorShape* out);

// Maps a flat index of the broadcast output to the flat index of an input.
class BroadcastIndex {
 public:
  BroadcastIndex(const tensorflow::TensorShape& in, const tensorflow::TensorShape& out);
  std::int64_t operator()(std::int64_t out_index) const;

 private:
  std::vector<std::int64_t> out_dims_, in_strides_;  // stride 0 on broadcast axes
};

// Shape function: output = broadcast of inputs i and j.
absl::Status BroadcastShapeFn(tensorflow::shape_inference::InferenceContext* c, int i, int j);

// Shape function: output has the shape of input 1 (the ciphertexts).
inline absl::Status SameShapeAsA(tensorflow::shape_inference::InferenceContext* c) {
  c->set_output(0, c->input(1));
  return absl::OkStatus();
}

// Shape function: values[..., n] at input i -> output [...] (one element per row).
inline absl::Status RowsShapeFn(tensorflow::shape_inference::InferenceContext* c, int i) {
  tensorflow::shape_inference::ShapeHandle values, outer;
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(i), 1, &values));
  TF_RETURN_IF_ERROR(c->Subshape(values, 0, -1, &outer));
  c->set_output(0, outer);
  return absl::OkStatus();
}

// Shape function: ciphertexts[...] at input i -> values[..., num_values] (the attribute).
inline absl::Status SlotValuesShapeFn(tensorflow::shape_inference::InferenceContext* c, int i) {
  int num_values;
  TF_RETURN_IF_ERROR(c->GetAttr("num_values", &num_values));
  tensorflow::shape_inference::ShapeHandle out;
  TF_RETURN_IF_ERROR(c->Concatenate(c->input(i), c->Vector(num_values), &out));
  c->set_output(0, out);
  return absl::OkStatus();
}

// A status thrown through code that reports errors as exceptions, and
// returned unchanged by Guard (its message is worded in full).
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(absl::Status status)
      : std::runtime_error(std::string(status.message())), status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

inline void Check(absl::Status status) {
  if (!status.ok()) throw StatusError(std::move(status));
}

// Runs fn, turning an exception into an InvalidArgument status prefixed with
// the op's name (a StatusError into its own status).
inline absl::Status Guard(tensorflow::OpKernelContext* ctx, const std::function<void()>& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const StatusError& e) {
    return e.status();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": " + e.what());
  }
}

}  // namespace he_tf
