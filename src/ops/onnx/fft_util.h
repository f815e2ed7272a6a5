/* fft_util.h - complex DFT of any length for the signal operators (DFT, STFT): radix-2 for powers of two,
 * Bluestein's chirp-z through a power-of-two FFT otherwise. Private to DFT.c and STFT.c. */
#ifndef OXRT_OPS_FFT_UTIL_H
#define OXRT_OPS_FFT_UTIL_H
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* In-place iterative radix-2 FFT of n (a power of two) interleaved complex values; sign -1 forward, +1 inverse
 * (unnormalised). */
static void fft_pow2(double *x, size_t n, int sign) {
  for (size_t i = 1, j = 0; i < n; i++) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double tr = x[2 * i], ti = x[2 * i + 1];
      x[2 * i] = x[2 * j], x[2 * i + 1] = x[2 * j + 1];
      x[2 * j] = tr, x[2 * j + 1] = ti;
    }
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    double ang = sign * 2 * M_PI / (double)len;
    for (size_t i = 0; i < n; i += len) {
      for (size_t k = 0; k < len / 2; k++) {
        /* twiddles computed directly (not by recurrence) to keep errors small */
        double wr = cos(ang * (double)k), wi = sin(ang * (double)k);
        double *a = x + 2 * (i + k), *b = x + 2 * (i + k + len / 2);
        double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
        b[0] = a[0] - br, b[1] = a[1] - bi;
        a[0] += br, a[1] += bi;
      }
    }
  }
}

/* Complex DFT of n interleaved values in `x` into `y` (may not alias), sign -1 forward / +1 inverse, unnormalised.
 * Returns false on out of memory. */
static bool dft_any(const double *x, double *y, size_t n, int sign) {
  if (n == 0) return true;
  if ((n & (n - 1)) == 0) {
    memcpy(y, x, sizeof(double) * 2 * n);
    fft_pow2(y, n, sign);
    return true;
  }
  if (n <= 64) { /* small: the direct sum is cheap and exact enough */
    for (size_t k = 0; k < n; k++) {
      double sr = 0, si = 0;
      for (size_t t = 0; t < n; t++) {
        double ang = sign * 2 * M_PI * (double)((k * t) % n) / (double)n, c = cos(ang), s = sin(ang);
        sr += x[2 * t] * c - x[2 * t + 1] * s;
        si += x[2 * t] * s + x[2 * t + 1] * c;
      }
      y[2 * k] = sr, y[2 * k + 1] = si;
    }
    return true;
  }
  /* Bluestein: X_k = conj(w_k) * sum_t (x_t conj(w_t)) w_{k-t}, w_t = exp(i*pi*t^2/n) (for the forward sign) */
  size_t m = 1;
  while (m < 2 * n - 1) m <<= 1;
  double *w = malloc(sizeof(double) * 2 * n), *a = calloc(2 * m, sizeof(double)), *b = calloc(2 * m, sizeof(double));
  if (!w || !a || !b) {
    free(w), free(a), free(b);
    return false;
  }
  for (size_t t = 0; t < n; t++) {
    double ang = -sign * M_PI * (double)((t * t) % (2 * n)) / (double)n;
    w[2 * t] = cos(ang), w[2 * t + 1] = sin(ang);
  }
  for (size_t t = 0; t < n; t++) { /* a_t = x_t * conj(w_t) */
    double xr = x[2 * t], xi = x[2 * t + 1], wr = w[2 * t], wi = -w[2 * t + 1];
    a[2 * t] = xr * wr - xi * wi, a[2 * t + 1] = xr * wi + xi * wr;
  }
  b[0] = w[0], b[1] = w[1];
  for (size_t t = 1; t < n; t++) {
    b[2 * t] = b[2 * (m - t)] = w[2 * t];
    b[2 * t + 1] = b[2 * (m - t) + 1] = w[2 * t + 1];
  }
  fft_pow2(a, m, -1);
  fft_pow2(b, m, -1);
  for (size_t i = 0; i < m; i++) {
    double ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i], bi = b[2 * i + 1];
    a[2 * i] = ar * br - ai * bi, a[2 * i + 1] = ar * bi + ai * br;
  }
  fft_pow2(a, m, 1);
  for (size_t k = 0; k < n; k++) { /* y_k = conj(w_k) * conv_k / m */
    double cr = a[2 * k] / (double)m, ci = a[2 * k + 1] / (double)m, wr = w[2 * k], wi = -w[2 * k + 1];
    y[2 * k] = cr * wr - ci * wi, y[2 * k + 1] = cr * wi + ci * wr;
  }
  free(w), free(a), free(b);
  return true;
}

#endif
