/* calibrate.c - activation ranges for static quantization. A copy of the model that also outputs the
 * values to measure is serialised and run through the public session API, once per calibration batch
 * (twice for the histogram methods: min/max first, then a histogram of |x| over [0, max|x|]). */
#include "../onnx/onnx_writer.h"
#include "quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST_BINS 2048
#define QUANT_LEVELS 128

/* The model, serialised with `ids` added to the graph outputs (the model itself is left as it was). */
static oxrt_status *exposed_copy(oxrt_model *m, const int *ids, int n_ids, uint8_t **buf, size_t *size) {
  oxrt_graph *g = m->graph;
  int n0 = g->n_outputs, *o0 = g->outputs;
  int *outs = malloc(sizeof(int) * (size_t)(n0 + n_ids + 1));
  bool *was = calloc((size_t)n_ids + 1, sizeof(bool));
  if (!outs || !was) {
    free(outs);
    free(was);
    return OXRT_OOM();
  }
  memcpy(outs, o0, sizeof(int) * (size_t)n0);
  int n = n0;
  for (int i = 0; i < n_ids; i++) {
    was[i] = g->values[ids[i]].is_output;
    if (!was[i]) {
      outs[n++] = ids[i];
      g->values[ids[i]].is_output = true;
    }
  }
  g->outputs = outs;
  g->n_outputs = n;
  oxrt_status *st = oxrt_serialize_model(m, buf, size);
  g->outputs = o0;
  g->n_outputs = n0;
  for (int i = 0; i < n_ids; i++) g->values[ids[i]].is_output = was[i];
  free(outs);
  free(was);
  return st;
}

typedef struct {
  float lo, hi, amax;
  double *hist; /* HIST_BINS counts of |x| over [0, amax] */
} stat;

/* Runs batch `b`; `fn` sees each exposed output as float values. */
static oxrt_status *run_batch(oxrt_session *s, const oxrt_calib_batch *b, const char **names, int n_ids,
                              oxrt_value **outs) {
  for (int i = 0; i < n_ids; i++) outs[i] = NULL;
  oxrt_status *st = oxrt_session_run(s, NULL, b->names, b->values, b->n_inputs, names, (size_t)n_ids, outs);
  if (st) return st;
  for (int i = 0; i < n_ids; i++)
    if (!outs[i] || outs[i]->kind != OXRT_KIND_TENSOR || outs[i]->dtype != OXRT_FLOAT) {
      for (int k = 0; k < n_ids; k++) oxrt_value_free(outs[k]), outs[k] = NULL;
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "calibration: value '%s' is not a float tensor", names[i]);
    }
  return NULL;
}

static void add_minmax(stat *s, const oxrt_value *v) {
  const float *x = v->data;
  for (size_t i = 0; i < v->count; i++) {
    if (!isfinite(x[i])) continue;
    if (x[i] < s->lo) s->lo = x[i];
    if (x[i] > s->hi) s->hi = x[i];
  }
}

static void add_hist(stat *s, const oxrt_value *v) {
  const float *x = v->data;
  if (!(s->amax > 0)) return;
  double k = HIST_BINS / (double)s->amax;
  for (size_t i = 0; i < v->count; i++) {
    /* exact zeros (ReLU outputs, padding) are always exact at the zero point: kept out of the histogram, where
     * a spike at bin 0 drives the KL search to a tiny threshold */
    if (!isfinite(x[i]) || x[i] == 0) continue;
    long b = (long)(fabs((double)x[i]) * k);
    s->hist[b >= HIST_BINS ? HIST_BINS - 1 : b] += 1;
  }
}

/* Smallest threshold below which `pct` percent of |x| lies. */
static float percentile_threshold(const stat *s, double pct) {
  double total = 0, acc = 0;
  for (int i = 0; i < HIST_BINS; i++) total += s->hist[i];
  if (total <= 0) return s->amax;
  for (int i = 0; i < HIST_BINS; i++) {
    acc += s->hist[i];
    if (acc >= total * pct / 100.0) return (float)((i + 1) * (double)s->amax / HIST_BINS);
  }
  return s->amax;
}

/* KL(P || Q) for the first `n` bins clipped at threshold bin n: P holds the outliers in its last bin, Q is P
 * merged into QUANT_LEVELS levels and spread back over the non-empty bins of each level. */
static double kl_at(const double *h, int n, double *p, double *q) {
  for (int i = 0; i < n; i++) p[i] = h[i];
  for (int i = n; i < HIST_BINS; i++) p[n - 1] += h[i];
  for (int i = 0; i < n; i++) q[i] = 0;
  for (int lvl = 0; lvl < QUANT_LEVELS; lvl++) {
    int a = (int)((long)lvl * n / QUANT_LEVELS), b = (int)((long)(lvl + 1) * n / QUANT_LEVELS);
    double sum = 0;
    int nz = 0;
    for (int i = a; i < b; i++) {
      sum += h[i]; /* the unclipped bins: the outliers are what the clip loses */
      nz += h[i] > 0;
    }
    for (int i = a; i < b; i++)
      if (h[i] > 0) q[i] = sum / nz;
  }
  double sp = 0, sq = 0;
  for (int i = 0; i < n; i++) sp += p[i], sq += q[i];
  if (sp <= 0 || sq <= 0) return INFINITY;
  double kl = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] <= 0) continue;
    double pi = p[i] / sp, qi = q[i] / sq;
    kl += qi > 0 ? pi * log(pi / qi) : pi * 20; /* an empty level where P has mass: a large penalty */
  }
  return kl;
}

static float entropy_threshold(const stat *s) {
  double p[HIST_BINS], q[HIST_BINS], best = INFINITY;
  int best_n = HIST_BINS;
  for (int n = QUANT_LEVELS; n <= HIST_BINS; n += 16) {
    double kl = kl_at(s->hist, n, p, q);
    if (kl < best) best = kl, best_n = n;
  }
  return (float)((best_n + 0.5) * (double)s->amax / HIST_BINS);
}

static void progress(const oxrt_quantize_options *o, const char *stage, size_t done, size_t total) {
  if (o->on_progress) o->on_progress(o->user, stage, done, total);
}

oxrt_status *qg_calibrate(oxrt_model *m, const int *ids, int n_ids, const oxrt_quantize_options *o, qg_range *out) {
  if (n_ids == 0) return NULL;
  if (!o->batches || o->n_batches == 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "static quantization needs at least one calibration batch");
  uint8_t *buf;
  size_t size;
  OXRT_TRY(exposed_copy(m, ids, n_ids, &buf, &size));
  oxrt_session_options *so = NULL;
  oxrt_session *s = NULL;
  oxrt_status *st = oxrt_session_options_create(&so);
  if (!st) st = oxrt_session_create_from_memory(buf, size, so, &s);
  oxrt_session_options_free(so);
  free(buf);
  if (st) return oxrt_error_prefix(st, "calibration model: ");
  const char **names = malloc(sizeof(char *) * (size_t)n_ids);
  oxrt_value **outs = calloc((size_t)n_ids, sizeof(oxrt_value *));
  stat *stats = calloc((size_t)n_ids, sizeof(stat));
  bool hist = o->method == OXRT_CALIB_ENTROPY || o->method == OXRT_CALIB_PERCENTILE;
  if (!names || !outs || !stats) st = OXRT_OOM();
  for (int i = 0; !st && i < n_ids; i++) {
    names[i] = m->graph->values[ids[i]].name;
    stats[i].lo = INFINITY;
    stats[i].hi = -INFINITY;
    if (hist && !(stats[i].hist = calloc(HIST_BINS, sizeof(double)))) st = OXRT_OOM();
  }
  size_t nb = o->n_batches, total = hist ? 2 * nb : nb;
  for (size_t b = 0; !st && b < nb; b++) {
    st = run_batch(s, &o->batches[b], names, n_ids, outs);
    if (st) st = oxrt_error_prefix(st, "calibration batch %zu: ", b);
    for (int i = 0; !st && i < n_ids; i++) {
      add_minmax(&stats[i], outs[i]);
      oxrt_value_free(outs[i]);
    }
    progress(o, "ranges", b + 1, total);
  }
  if (!st && hist) {
    for (int i = 0; i < n_ids; i++) stats[i].amax = fmaxf(fabsf(stats[i].lo), fabsf(stats[i].hi));
    for (size_t b = 0; !st && b < nb; b++) {
      st = run_batch(s, &o->batches[b], names, n_ids, outs);
      if (st) st = oxrt_error_prefix(st, "calibration batch %zu: ", b);
      for (int i = 0; !st && i < n_ids; i++) {
        add_hist(&stats[i], outs[i]);
        oxrt_value_free(outs[i]);
      }
      progress(o, "histograms", nb + b + 1, total);
    }
  }
  for (int i = 0; !st && i < n_ids; i++) {
    stat *x = &stats[i];
    if (x->lo > x->hi) x->lo = x->hi = 0; /* nothing finite seen */
    float lo = x->lo, hi = x->hi;
    if (hist && x->amax > 0) {
      float t = o->method == OXRT_CALIB_ENTROPY ? entropy_threshold(x)
                                                : percentile_threshold(x, o->percentile > 0 ? o->percentile : 99.999);
      lo = fmaxf(lo, -t);
      hi = fminf(hi, t);
    }
    out[i].lo = lo;
    out[i].hi = hi;
  }
  for (int i = 0; stats && i < n_ids; i++) free(stats[i].hist);
  free(stats);
  free(names);
  free(outs);
  oxrt_session_free(s);
  return st;
}
