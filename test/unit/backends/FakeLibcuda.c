/*===- FakeLibcuda.c - A driver library for the CUDA backend's tests ------===*
 *
 * Exports the entry points the CUDA backend resolves, emulating one device
 * in host memory, so the backend's logic (driver loading, error mapping,
 * per-thread contexts, launch checks) is tested without a GPU. Configured
 * by the environment, read at each call (the backend keeps a driver that
 * initialised, so tests in one process may change it):
 *   FAKE_CUDA_INIT_RESULT  cuInit's result (default 0)
 *   FAKE_CUDA_DEVICES      device count (default 1)
 *   FAKE_CUDA_CC           compute capability x 10 (default 90)
 * cuModuleLoadData accepts images starting with "FAKECUBIN", and PTX text
 * (NUL-terminated, holding ".version" and ".target") as a driver would, and answers
 * CUDA_ERROR_NO_BINARY_FOR_GPU otherwise; cuModuleGetFunction fails for
 * "missing". Calls that need a context fail with CUDA_ERROR_INVALID_CONTEXT
 * unless the primary context is current on the calling thread. A launch
 * records its configuration (fakeCudaLastLaunch).
 *
 *===----------------------------------------------------------------------===*/
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
  OK = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  NOT_INITIALIZED = 3,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_CONTEXT = 201,
  NO_BINARY_FOR_GPU = 209,
  NOT_FOUND = 500,
};

static int initialised;
static int primary;  /* The primary context's storage: &primary is it. */
static int retained; /* Primary context retain count. */
static int module, function;
static __thread void *current;

/* What the tests read back. */
struct FakeLaunch {
  unsigned grid[3], block[3], sharedBytes;
  void *stream;
  void *param0;
  int launches, sharedAttributeSets, sharedAttributeValue, retained;
};
static struct FakeLaunch last;

struct FakeLaunch *fakeCudaLastLaunch(void) {
  last.retained = retained;
  return &last;
}

static int envInt(const char *name, int fallback) {
  const char *value = getenv(name);
  return value && *value ? atoi(value) : fallback;
}

#define NEED_CONTEXT()                                                         \
  do {                                                                         \
    if (!initialised)                                                          \
      return NOT_INITIALIZED;                                                  \
    if (current != &primary)                                                   \
      return INVALID_CONTEXT;                                                  \
  } while (0)

CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case OK:
    *name = "CUDA_SUCCESS";
    return OK;
  case OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return OK;
  case NOT_INITIALIZED:
    *name = "CUDA_ERROR_NOT_INITIALIZED";
    return OK;
  case NO_DEVICE:
    *name = "CUDA_ERROR_NO_DEVICE";
    return OK;
  case INVALID_CONTEXT:
    *name = "CUDA_ERROR_INVALID_CONTEXT";
    return OK;
  case NO_BINARY_FOR_GPU:
    *name = "CUDA_ERROR_NO_BINARY_FOR_GPU";
    return OK;
  case NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    return OK;
  case 34:
    *name = "CUDA_ERROR_STUB_LIBRARY";
    return OK;
  default:
    *name = 0;
    return INVALID_VALUE;
  }
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case OUT_OF_MEMORY:
    *text = "out of memory";
    return OK;
  case NO_DEVICE:
    *text = "no CUDA-capable device is detected";
    return OK;
  case NO_BINARY_FOR_GPU:
    *text = "no kernel image is available for execution on the device";
    return OK;
  case INVALID_CONTEXT:
    *text = "invalid device context";
    return OK;
  case NOT_FOUND:
    *text = "named symbol not found";
    return OK;
  default:
    *text = 0;
    return INVALID_VALUE;
  }
}

CUresult cuInit(unsigned flags) {
  (void)flags;
  CUresult result = envInt("FAKE_CUDA_INIT_RESULT", 0);
  initialised = result == OK;
  return result;
}

CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return OK;
}

CUresult cuDeviceGetCount(int *count) {
  if (!initialised)
    return NOT_INITIALIZED;
  *count = envInt("FAKE_CUDA_DEVICES", 1);
  return OK;
}

CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal < 0 || ordinal >= envInt("FAKE_CUDA_DEVICES", 1))
    return INVALID_DEVICE;
  *device = ordinal;
  return OK;
}

CUresult cuDeviceGetName(char *name, int length, int device) {
  (void)device;
  strncpy(name, "Fake GPU", (size_t)length);
  return OK;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  const int cc = envInt("FAKE_CUDA_CC", 90);
  (void)device;
  switch (attribute) {
  case 16:
    *value = 7;
    return OK; /* SMs */
  case 75:
    *value = cc / 10;
    return OK; /* major */
  case 76:
    *value = cc % 10;
    return OK; /* minor */
  case 97:
    *value = 227 * 1024;
    return OK; /* shared optin */
  default:
    return INVALID_VALUE;
  }
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
  (void)device;
  *bytes = (size_t)80 << 30;
  return OK;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  (void)device;
  ++retained;
  *context = &primary;
  return OK;
}

CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  (void)device;
  --retained;
  return OK;
}

CUresult cuCtxSetCurrent(void *context) {
  current = context;
  return OK;
}

CUresult cuCtxGetCurrent(void **context) {
  *context = current;
  return OK;
}

CUresult cuCtxSynchronize(void) {
  NEED_CONTEXT();
  return OK;
}

CUresult cuModuleLoadData(void **result, const void *image) {
  NEED_CONTEXT();
  // Binary images first: a CUBIN has no terminator to search up to. Like
  // the real driver, PTX is read as text up to its NUL.
  if (memcmp(image, "FAKECUBIN", 9) != 0) {
    if (memcmp(image, "\177ELF", 4) == 0)
      return NO_BINARY_FOR_GPU;
    const char *text = (const char *)image;
    if (!strstr(text, ".version") || !strstr(text, ".target"))
      return NO_BINARY_FOR_GPU;
  }
  *result = &module;
  return OK;
}

CUresult cuModuleLoadDataEx(void **result, const void *image, unsigned n,
                            int *options, void **values) {
  (void)n, (void)options, (void)values;
  return cuModuleLoadData(result, image);
}

CUresult cuModuleUnload(void *m) {
  (void)m;
  NEED_CONTEXT();
  return OK;
}

CUresult cuModuleGetFunction(void **result, void *m, const char *name) {
  (void)m;
  NEED_CONTEXT();
  if (strcmp(name, "missing") == 0)
    return NOT_FOUND;
  *result = &function;
  return OK;
}

CUresult cuFuncSetAttribute(void *f, int attribute, int value) {
  (void)f;
  NEED_CONTEXT();
  if (attribute == 8) {
    ++last.sharedAttributeSets;
    last.sharedAttributeValue = value;
  }
  return OK;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        void *stream, void **params, void **extra) {
  (void)f, (void)extra;
  NEED_CONTEXT();
  if (shared > 48 * 1024 && (unsigned)last.sharedAttributeValue < shared)
    return INVALID_VALUE;
  last.grid[0] = gx, last.grid[1] = gy, last.grid[2] = gz;
  last.block[0] = bx, last.block[1] = by, last.block[2] = bz;
  last.sharedBytes = shared;
  last.stream = stream;
  last.param0 = params[0];
  ++last.launches;
  return OK;
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  NEED_CONTEXT();
  if (bytes == 0)
    return INVALID_VALUE;
  if (bytes > ((size_t)1 << 40))
    return OUT_OF_MEMORY;
  void *memory = malloc(bytes);
  if (!memory)
    return OUT_OF_MEMORY;
  *pointer = (CUdeviceptr)memory;
  return OK;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  NEED_CONTEXT();
  free((void *)pointer);
  return OK;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr device, const void *host, size_t bytes) {
  NEED_CONTEXT();
  memcpy((void *)device, host, bytes);
  return OK;
}

CUresult cuMemcpyDtoH_v2(void *host, CUdeviceptr device, size_t bytes) {
  NEED_CONTEXT();
  memcpy(host, (const void *)device, bytes);
  return OK;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr to, CUdeviceptr from, size_t bytes,
                              void *stream) {
  (void)stream;
  NEED_CONTEXT();
  memcpy((void *)to, (const void *)from, bytes);
  return OK;
}

CUresult cuMemsetD8Async(CUdeviceptr device, unsigned char value, size_t count,
                         void *stream) {
  (void)stream;
  NEED_CONTEXT();
  memset((void *)device, value, count);
  return OK;
}

CUresult cuStreamSynchronize(void *stream) {
  (void)stream;
  NEED_CONTEXT();
  return OK;
}

/* Events are not exercised; they only have to exist. */
CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  *event = 0;
  return NOT_INITIALIZED;
}
CUresult cuEventRecord(void *event, void *stream) {
  (void)event, (void)stream;
  return NOT_INITIALIZED;
}
CUresult cuEventSynchronize(void *event) {
  (void)event;
  return NOT_INITIALIZED;
}
CUresult cuEventElapsedTime_v2(float *ms, void *start, void *end) {
  (void)ms, (void)start, (void)end;
  return NOT_INITIALIZED;
}
CUresult cuEventDestroy_v2(void *event) {
  (void)event;
  return NOT_INITIALIZED;
}
