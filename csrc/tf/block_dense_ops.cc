// A dense layer on samples packed in blocks side by side in the slots (csrc/core/block_dense.h).
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/block_dense.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_util.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("HeBlockDense")
    .Input("context: variant")
    .Input("a: variant")
    .Input("weights: float64")
    .Input("bias: float64")
    .Attr("samples: int >= 1")
    .Attr("blocks: int >= 1")
    .Attr("imaginary_samples: int >= 0 = 0")
    .Output("result: variant")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->Matrix(1, c->UnknownDim()));
      return absl::OkStatus();
    })
    .Doc("a: the C ciphertexts of a block-layout request (`blocks` blocks of `samples` slots each; any "
         "shape, read flat); weights [C * blocks, K]; bias [K]. Result [1, R]: x @ weights + bias with "
         "slots / samples output blocks per ciphertext, every other slot zero. One level; one rotation "
         "per block shift. The encoded weights are kept for the next call with the same inputs. imaginary_samples > 0: "
         "each slot holds two samples (real and imaginary parts); the bias is added to the real parts and to the "
         "imaginary parts of the first imaginary_samples slots of each block.");

class BlockDenseOp : public OpKernel {
 public:
  explicit BlockDenseOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("samples", &samples_));
    OP_REQUIRES_OK(c, c->GetAttr("blocks", &blocks_));
    OP_REQUIRES_OK(c, c->GetAttr("imaginary_samples", &imaginary_samples_));
    OP_REQUIRES(c, imaginary_samples_ <= samples_,
                absl::InvalidArgumentError("HeBlockDense: imaginary_samples must not exceed samples"));
  }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& w = ctx->input(2);
    const Tensor& b = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    const std::int64_t cts = a.NumElements();
    OP_REQUIRES(ctx, cts > 0 && w.dims() == 2 && w.dim_size(0) == cts * blocks_ && w.dim_size(1) > 0 &&
                         b.dims() == 1 && b.dim_size(0) == w.dim_size(1),
                absl::InvalidArgumentError("HeBlockDense: " + std::to_string(cts) + " ciphertexts of " +
                                           std::to_string(blocks_) + " blocks need weights [" +
                                           std::to_string(cts * blocks_) + ", K] and bias [K], got " +
                                           w.shape().DebugString() + " and " + b.shape().DebugString()));
    const std::shared_ptr<const PublicContext>& pc = context->get();
    std::vector<const seal::Ciphertext*> x(cts);
    std::shared_ptr<const BlockDense> layer;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     for (std::int64_t j = 0; j < cts; ++j) x[j] = &CiphertextAt(a, j).Get(*pc);
                     layer = Prepared(pc, w, b, pc->Level(*x[0]), x[0]->scale());
                   }));
    // Every (output ciphertext, shift) group is independent: products, one rescale, one rotation.
    std::vector<std::pair<std::size_t, std::size_t>> work;
    for (std::size_t r = 0; r < layer->output_ciphertexts(); ++r) {
      for (std::size_t g = 0; g < layer->shifts(r); ++g) work.emplace_back(r, g);
    }
    std::vector<seal::Ciphertext> terms(work.size());
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, static_cast<std::int64_t>(work.size()), kCiphertextCost,
                                        [&](std::int64_t i) { terms[i] = layer->Term(x, work[i].first, work[i].second); }));
    Tensor* out;
    const std::int64_t out_cts = static_cast<std::int64_t>(layer->output_ciphertexts());
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({1, out_cts}), &out));
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     std::size_t next = 0;
                     for (std::int64_t r = 0; r < out_cts; ++r) {
                       std::vector<seal::Ciphertext> mine;
                       for (; next < work.size() && work[next].first == static_cast<std::size_t>(r); ++next) {
                         mine.push_back(std::move(terms[next]));
                       }
                       result(r) = Wrap(*pc, layer->Finish(std::move(mine), r));
                     }
                   }));
  }

 private:
  // The layer for these inputs: the last one if its context, level, scale, weights and bias are the same.
  std::shared_ptr<const BlockDense> Prepared(const std::shared_ptr<const PublicContext>& pc, const Tensor& w,
                                             const Tensor& b, int level, double scale) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string key = std::string(w.tensor_data()) + std::string(b.tensor_data());
    if (cached_ == nullptr || cached_context_ != pc || cached_level_ != level || cached_scale_ != scale ||
        cached_key_ != key) {
      cached_ = std::make_shared<const BlockDense>(*pc, w.flat<double>().data(), b.flat<double>().data(),
                                                   static_cast<std::size_t>(w.dim_size(0) / blocks_),
                                                   static_cast<std::size_t>(blocks_),
                                                   static_cast<std::size_t>(samples_),
                                                   static_cast<std::size_t>(w.dim_size(1)), level, scale,
                                                   static_cast<std::size_t>(imaginary_samples_));
      cached_context_ = pc;  // keeps the context the plaintexts belong to alive
      cached_level_ = level;
      cached_scale_ = scale;
      cached_key_ = key;
    }
    return cached_;
  }

  int samples_, blocks_;
  int imaginary_samples_;
  std::mutex mu_;
  std::shared_ptr<const BlockDense> cached_;
  std::shared_ptr<const PublicContext> cached_context_;
  int cached_level_ = -1;
  double cached_scale_ = 0.0;
  std::string cached_key_;
};
REGISTER_KERNEL_BUILDER(Name("HeBlockDense").Device(tensorflow::DEVICE_CPU), BlockDenseOp);

}  // namespace he_tf
