// genmodel/kernels/backend.hpp: Backend<D>, the kernels the ops call for
// device D. Each op computes shapes and geometry on the host and calls
// kernels::Backend<D>::name(pointers, sizes...), so one op template serves
// every device. Backend<cpu> forwards to kernels/cpu; Backend<cuda>
// (kernels/cuda/backend.cuh, pulled in by genmodel/cuda.hpp) forwards to the
// CUDA kernels of the same names and parameters. A device without a backend
// stops the build at its first op with the message below.
//
// The functors passed to broadcast_binary / broadcast_ternary / map_scalar
// are lambdas marked GENMODEL_HOST_DEVICE (nvcc's --extended-lambda), and
// those passed to map_array / map_array2 are the two-form functors of
// kernels/functors.hpp, so the same op body compiles for both devices.
#pragma once

#include <utility>

#include "genmodel/core/device.hpp"
#include "genmodel/kernels/cpu/broadcast.hpp"
#include "genmodel/kernels/cpu/conv.hpp"
#include "genmodel/kernels/cpu/dropout.hpp"
#include "genmodel/kernels/cpu/embedding.hpp"
#include "genmodel/kernels/cpu/gemm.hpp"
#include "genmodel/kernels/cpu/index.hpp"
#include "genmodel/kernels/cpu/norm.hpp"
#include "genmodel/kernels/cpu/optim.hpp"
#include "genmodel/kernels/cpu/pool.hpp"
#include "genmodel/kernels/cpu/reduce.hpp"
#include "genmodel/kernels/cpu/softmax.hpp"
#include "genmodel/kernels/cpu/unary.hpp"
#include "genmodel/kernels/cpu/upsample.hpp"
#include "genmodel/kernels/functors.hpp"

namespace genmodel::kernels {

template <class D>
struct Backend {
  static_assert(sizeof(D) == 0,
                "genmodel: no kernels for this device in this translation unit; for cuda, compile it "
                "with nvcc and include genmodel/cuda.hpp");
};

/// One static forwarding function per kernel; NS is the kernels' namespace.
#define GENMODEL_BACKEND_KERNELS(NS)                                                                    \
  GENMODEL_FORWARD(NS, broadcast_binary)                                                                \
  GENMODEL_FORWARD(NS, broadcast_ternary)                                                               \
  GENMODEL_FORWARD(NS, broadcast_to)                                                                    \
  GENMODEL_FORWARD(NS, map_scalar)                                                                      \
  GENMODEL_FORWARD(NS, map_array)                                                                       \
  GENMODEL_FORWARD(NS, map_array2)                                                                      \
  GENMODEL_FORWARD(NS, fill)                                                                            \
  GENMODEL_FORWARD(NS, copy_rows)                                                                       \
  GENMODEL_FORWARD(NS, check_index_range)                                                               \
  GENMODEL_FORWARD(NS, index_select_rows)                                                               \
  GENMODEL_FORWARD(NS, index_add_rows)                                                                  \
  GENMODEL_FORWARD(NS, gather)                                                                          \
  GENMODEL_FORWARD(NS, scatter_add)                                                                     \
  GENMODEL_FORWARD(NS, reduce_middle)                                                                   \
  GENMODEL_FORWARD(NS, argmax_middle)                                                                   \
  GENMODEL_FORWARD(NS, permute)                                                                         \
  GENMODEL_FORWARD(NS, softmax_forward)                                                                 \
  GENMODEL_FORWARD(NS, softmax_backward)                                                                \
  GENMODEL_FORWARD(NS, log_softmax_forward)                                                             \
  GENMODEL_FORWARD(NS, log_softmax_backward)                                                            \
  GENMODEL_FORWARD(NS, gemm_batched)                                                                    \
  GENMODEL_FORWARD(NS, conv2d_forward)                                                                  \
  GENMODEL_FORWARD(NS, conv2d_backward_data)                                                            \
  GENMODEL_FORWARD(NS, conv2d_backward_weight)                                                          \
  GENMODEL_FORWARD(NS, batch_norm_forward_train)                                                        \
  GENMODEL_FORWARD(NS, batch_norm_backward)                                                             \
  GENMODEL_FORWARD(NS, layer_norm_forward)                                                              \
  GENMODEL_FORWARD(NS, layer_norm_backward)                                                             \
  GENMODEL_FORWARD(NS, group_norm_forward)                                                              \
  GENMODEL_FORWARD(NS, group_norm_backward)                                                             \
  GENMODEL_FORWARD(NS, max_pool2d_forward)                                                              \
  GENMODEL_FORWARD(NS, avg_pool2d_forward)                                                              \
  GENMODEL_FORWARD(NS, avg_pool2d_backward)                                                             \
  GENMODEL_FORWARD(NS, upsample_nearest2d_forward)                                                      \
  GENMODEL_FORWARD(NS, upsample_nearest2d_backward)                                                     \
  GENMODEL_FORWARD(NS, upsample_bilinear2d_forward)                                                     \
  GENMODEL_FORWARD(NS, upsample_bilinear2d_backward)                                                    \
  GENMODEL_FORWARD(NS, embedding_forward)                                                               \
  GENMODEL_FORWARD(NS, embedding_backward)                                                              \
  GENMODEL_FORWARD(NS, dropout_mask)                                                                    \
  GENMODEL_FORWARD(NS, sgd_step)                                                                        \
  GENMODEL_FORWARD(NS, adam_step)                                                                       \
  GENMODEL_FORWARD(NS, ema_update)

#define GENMODEL_FORWARD(NS, NAME)                            \
  template <class... Args>                                    \
  static decltype(auto) NAME(Args&&... args) {                \
    return NS::NAME(std::forward<Args>(args)...);             \
  }

template <>
struct Backend<::genmodel::cpu> {
  GENMODEL_BACKEND_KERNELS(::genmodel::kernels::cpu)
};

}  // namespace genmodel::kernels
