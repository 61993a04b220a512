#include "tf/kernel_util.h"

#include <algorithm>

#include "tensorflow/core/framework/common_shape_fns.h"

namespace he_tf {

absl::Status BroadcastShapes(const tensorflow::TensorShape& a, const tensorflow::TensorShape& b,
                             tensorflow::TensorShape* out) {
  const int rank = std::max(a.dims(), b.dims());
  tensorflow::TensorShape result;
  for (int i = 0; i < rank; ++i) {
    const int ia = a.dims() - rank + i, ib = b.dims() - rank + i;
    const std::int64_t da = ia >= 0 ? a.dim_size(ia) : 1, db = ib >= 0 ? b.dim_size(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError("shapes " + a.DebugString() + " and " + b.DebugString() +
                                        " do not broadcast");
    }
    result.AddDim(da == 1 ? db : da);
  }
  *out = result;
  return absl::OkStatus();
}

BroadcastIndex::BroadcastIndex(const tensorflow::TensorShape& in, const tensorflow::TensorShape& out) {
  const int rank = out.dims();
  out_dims_.resize(rank);
  in_strides_.assign(rank, 0);
  std::int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    out_dims_[i] = out.dim_size(i);
    const int j = in.dims() - rank + i;
    if (j >= 0) {
      if (in.dim_size(j) != 1) in_strides_[i] = stride;
      stride *= in.dim_size(j);
    }
  }
}

std::int64_t BroadcastIndex::operator()(std::int64_t out_index) const {
  std::int64_t in_index = 0;
  for (int i = static_cast<int>(out_dims_.size()) - 1; i >= 0; --i) {
    in_index += (out_index % out_dims_[i]) * in_strides_[i];
    out_index /= out_dims_[i];
  }
  return in_index;
}

absl::Status BroadcastShapeFn(tensorflow::shape_inference::InferenceContext* c, int i, int j) {
  tensorflow::shape_inference::ShapeHandle out;
  TF_RETURN_IF_ERROR(tensorflow::shape_inference::BroadcastBinaryOpOutputShapeFnHelper(c, c->input(i), c->input(j), true, &out));
  c->set_output(0, out);
  return absl::OkStatus();
}

}  // namespace he_tf
