/*===- run_layer.c - The awqc runtime from C: open a bundle, run a layer --===*
 *
 *   run_layer MODEL.awqb [DEVICE [M [OUT]]]
 *
 * Opens MODEL on DEVICE ("host" by default, or "cuda", "cuda:N"), prints
 * what the model holds, runs every layer once on M rows (default 3) of
 * activations from a fixed generator, and, with OUT, writes layer 0's
 * input and output for a test to check: the int64 M, then x [M, K] and
 * y [M, N_out] as raw 16-bit values of the layer's activation type, fp16
 * or bf16 (layer 0 must take no residual).
 *
 *===----------------------------------------------------------------------===*/
#include "awqc_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reports a failed call with the runtime's message and leaves. */
#define CHECK(call)                                                            \
  do {                                                                         \
    awqc_status status_ = (call);                                              \
    if (status_ != AWQC_OK) {                                                  \
      fprintf(stderr, "run_layer: %s failed: %s: %s\n", #call,                 \
              awqc_status_name(status_), awqc_last_error());                   \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* fp16 bits of a value in [-1, 1) from a 32-bit linear congruential
 * generator: 1 sign bit, exponent 14 (2^-1), 10 random mantissa bits. */
static uint16_t next_half(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  uint16_t sign = (uint16_t)((*state >> 31) << 15);
  return (uint16_t)(sign | (14u << 10) | ((*state >> 8) & 0x3ffu));
}

/* bf16 bits of a value in [-1, 1): 1 sign bit, exponent 126 (2^-1), 7
 * random mantissa bits. */
static uint16_t next_bfloat16(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  uint16_t sign = (uint16_t)((*state >> 31) << 15);
  return (uint16_t)(sign | (126u << 7) | ((*state >> 8) & 0x7fu));
}

/* A value of the layer's activation type. */
static uint16_t next_element(uint32_t *state, awqc_activation_type type) {
  return type == AWQC_ACTIVATION_BF16 ? next_bfloat16(state)
                                      : next_half(state);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: run_layer MODEL.awqb [DEVICE [M [OUT]]]\n");
    return 2;
  }
  const char *device = argc > 2 ? argv[2] : "host";
  int64_t m = argc > 3 ? atoll(argv[3]) : 3;

  awqc_open_options options;
  awqc_open_options_init(&options);
  options.device = device;
  awqc_model *model = NULL;
  CHECK(awqc_model_open(argv[1], &options, &model));

  awqc_model_info info;
  CHECK(awqc_model_get_info(model, &info));
  printf("%s: %lld layers, %lld kernels for %s on %s (%lld cached, %lld "
         "compiled)\n",
         awqc_runtime_version(), (long long)info.num_layers,
         (long long)info.num_kernels, info.target, info.device,
         (long long)info.kernels_cached, (long long)info.kernels_compiled);

  size_t workspace_bytes = 0;
  void *workspace = NULL;
  CHECK(awqc_model_workspace_bytes(model, m, &workspace_bytes));
  if (workspace_bytes) {
    CHECK(awqc_model_alloc(model, workspace_bytes, &workspace));
    CHECK(awqc_model_zero_workspace(model, workspace, workspace_bytes, NULL));
  }

  uint32_t state = 12345u;
  for (int64_t i = 0; i < info.num_layers; ++i) {
    awqc_layer_info layer;
    CHECK(awqc_model_get_layer(model, i, &layer));
    size_t x_bytes = (size_t)(m * layer.k) * 2;
    size_t y_bytes = (size_t)(m * layer.n_out) * 2;
    uint16_t *x = malloc(x_bytes), *y = malloc(y_bytes);
    for (size_t e = 0; e < x_bytes / 2; ++e)
      x[e] = next_element(&state, layer.activation);
    void *dx = NULL, *dy = NULL, *dr = NULL;
    CHECK(awqc_model_alloc(model, x_bytes, &dx));
    CHECK(awqc_model_alloc(model, y_bytes, &dy));
    CHECK(awqc_model_copy_to_device(model, dx, x, x_bytes));
    if (layer.has_residual) { /* the residual: the output's own shape */
      uint16_t *r = malloc(y_bytes);
      for (size_t e = 0; e < y_bytes / 2; ++e)
        r[e] = next_element(&state, layer.activation);
      CHECK(awqc_model_alloc(model, y_bytes, &dr));
      CHECK(awqc_model_copy_to_device(model, dr, r, y_bytes));
      free(r);
    }
    awqc_layer_io io = {dx, dr, dy};
    CHECK(awqc_model_run_layer(model, i, m, &io, workspace, workspace_bytes,
                               NULL));
    CHECK(awqc_model_synchronize(model, NULL));
    CHECK(awqc_model_copy_to_host(model, y, dy, y_bytes));
    printf("layer %lld: %s, K %lld -> N %lld, %s, y[0] bits 0x%04x\n",
           (long long)i, layer.name, (long long)layer.k,
           (long long)layer.n_out,
           layer.activation == AWQC_ACTIVATION_BF16 ? "bf16" : "f16", y[0]);
    if (i == 0 && argc > 4) {
      FILE *out = fopen(argv[4], "wb");
      if (!out || fwrite(&m, sizeof m, 1, out) != 1 ||
          fwrite(x, 1, x_bytes, out) != x_bytes ||
          fwrite(y, 1, y_bytes, out) != y_bytes || fclose(out) != 0) {
        fprintf(stderr, "run_layer: cannot write %s\n", argv[4]);
        return 1;
      }
    }
    CHECK(awqc_model_free(model, dx));
    CHECK(awqc_model_free(model, dy));
    CHECK(awqc_model_free(model, dr));
    free(x);
    free(y);
  }
  CHECK(awqc_model_free(model, workspace));
  awqc_model_close(model);
  return 0;
}
