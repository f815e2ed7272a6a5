/* executor.c - runs a planned graph in a frame; buffer reuse; subgraph calls. */
#include "engine.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ buffer pool */
void *oxrt_pool_take(oxrt_buffer_pool *p, size_t nbytes, size_t *got) {
  if (!p) return NULL;
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < p->n; i++)
    if (p->sizes[i] >= nbytes && (best == SIZE_MAX || p->sizes[i] < p->sizes[best])) best = i;
  /* Too large a buffer for a small tensor wastes memory: accept up to 2x (or 4 KiB slack). */
  if (best == SIZE_MAX || (p->sizes[best] > 2 * nbytes && p->sizes[best] - nbytes > 4096)) return NULL;
  void *b = p->bufs[best];
  *got = p->sizes[best];
  p->bufs[best] = p->bufs[p->n - 1];
  p->sizes[best] = p->sizes[p->n - 1];
  p->n--;
  return b;
}

void oxrt_pool_give(oxrt_buffer_pool *p, void *buf, size_t size) {
  if (!p || p->n == p->cap) {
    size_t nc = p ? (p->cap ? p->cap * 2 : 16) : 0;
    void **nb = p ? realloc(p->bufs, nc * sizeof *nb) : NULL;
    if (nb) p->bufs = nb;
    size_t *ns = nb ? realloc(p->sizes, nc * sizeof *ns) : NULL;
    if (ns) p->sizes = ns;
    uint32_t *nt = ns ? realloc(p->stamps, nc * sizeof *nt) : NULL;
    if (!nt) {
      oxrt_aligned_free(buf);
      return;
    }
    p->stamps = nt;
    p->cap = nc;
  }
  p->bufs[p->n] = buf;
  p->stamps[p->n] = p->epoch;
  p->sizes[p->n++] = size;
}

void oxrt_pool_trim(oxrt_buffer_pool *p, bool untouched_only) {
  if (!p) return;
  size_t keep = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (untouched_only && p->stamps[i] == p->epoch) {
      p->bufs[keep] = p->bufs[i];
      p->sizes[keep] = p->sizes[i];
      p->stamps[keep++] = p->stamps[i];
    } else {
      oxrt_aligned_free(p->bufs[i]);
    }
  }
  p->n = keep;
  p->epoch++;
}

void oxrt_pool_clear(oxrt_buffer_pool *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) oxrt_aligned_free(p->bufs[i]);
  free(p->bufs);
  free(p->sizes);
  free(p->stamps);
  p->bufs = NULL;
  p->sizes = NULL;
  p->stamps = NULL;
  p->n = p->cap = 0;
  oxrt_mem_run_clear(&p->mem);
}

/* Releases a value; a plain tensor buffer goes back to the pool. */
static void recycle(oxrt_buffer_pool *pool, oxrt_value *v) {
  if (!v) return;
  if (pool && v->arena_slot) oxrt_mem_run_free(&pool->mem, v->arena_slot); /* arena data is not owned */
  if (pool && v->kind == OXRT_KIND_TENSOR && v->owns_data && v->data && v->dtype != OXRT_STRING && v->nbytes >= 256) {
    size_t cap = (v->nbytes + 63) & ~(size_t)63;
    oxrt_pool_give(pool, v->data, cap);
    v->data = NULL;
    v->owns_data = false;
  }
  oxrt_value_free(v);
}

/* ---------------------------------------------------------- kernel helpers */
/* The session's rank and byte limits for a tensor about to be allocated; counts its bytes against the run. */
static oxrt_status *check_limits(const oxrt_limits *lim, oxrt_buffer_pool *pool, oxrt_elem_type t, int rank,
                                 const int64_t *dims) {
  uint64_t max_rank = oxrt_limit_get(lim, OXRT_LIMIT_RANK);
  if (rank < 0 || (uint64_t)rank > max_rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output rank %d exceeds the session limit rank = %llu", rank,
                      (unsigned long long)max_rank);
  size_t count;
  char b[256];
  if (!oxrt_dims_count(dims, rank, &count))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid output shape %s (negative or too large)",
                      oxrt_dims_str(dims, rank, b, sizeof b));
  double bytes = (double)count * (double)oxrt_elem_type_size(t);
  uint64_t max_bytes = oxrt_limit_get(lim, OXRT_LIMIT_TENSOR_BYTES);
  if (bytes > (double)max_bytes)
    return oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "output %s%s needs %.0f bytes, over the session limit tensor_bytes = %llu",
                      oxrt_elem_type_name(t), oxrt_dims_str(dims, rank, b, sizeof b), bytes,
                      (unsigned long long)max_bytes);
  if (pool) {
    uint64_t max_run = oxrt_limit_get(lim, OXRT_LIMIT_RUN_BYTES);
    if ((double)pool->run_bytes + bytes > (double)max_run)
      return oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "output %s%s would bring this run's allocations to %.0f bytes, over the "
                        "session limit run_bytes = %llu", oxrt_elem_type_name(t), oxrt_dims_str(dims, rank, b, sizeof b),
                        (double)pool->run_bytes + bytes, (unsigned long long)max_run);
    pool->run_bytes += (uint64_t)bytes;
  }
  return NULL;
}

/* Output i of the node goes through the run's memory plan: the main graph's tensors that die inside the run. */
static bool planned_output(const oxrt_kernel_ctx *ctx, int i) {
  const oxrt_frame *f = ctx->frame;
  if (!f || f->parent || (!f->pool->mem.plan && !f->pool->mem.recording)) return false;
  int id = ctx->node->outputs[i];
  return id >= 0 && !f->plan->graph->values[id].is_output;
}

oxrt_status *oxrt_output_tensor(oxrt_kernel_ctx *ctx, int i, oxrt_elem_type t, int rank, const int64_t *dims,
                                oxrt_value **out) {
  if (i < 0 || i >= ctx->n_outputs)
    return oxrt_error(OXRT_ERR_RUNTIME, "kernel wrote output %d but the node has %d outputs", i, ctx->n_outputs);
  oxrt_value *v;
  oxrt_buffer_pool *pool = ctx->frame ? ctx->frame->pool : NULL;
  size_t count;
  if (ctx->frame) OXRT_TRY(check_limits(&ctx->frame->session->opts.limits, pool, t, rank, dims));
  int slot = 0;
  if (t != OXRT_STRING && pool && rank >= 0 && rank <= OXRT_MAX_RANK && oxrt_dims_count(dims, rank, &count) &&
      count * oxrt_elem_type_size(t) >= 256) {
    const size_t nbytes = count * oxrt_elem_type_size(t);
    if (planned_output(ctx, i)) {
      void *buf = oxrt_mem_run_alloc(&pool->mem, nbytes, &slot);
      if (buf) {
        OXRT_TRY(oxrt_tensor_view(t, rank, dims, buf, &v)); /* the arena's bytes: not owned */
        goto done;
      }
    }
    size_t got;
    void *buf = oxrt_pool_take(pool, nbytes, &got);
    if (buf) {
      oxrt_status *st = oxrt_tensor_view(t, rank, dims, buf, &v);
      if (st) {
        oxrt_pool_give(pool, buf, got);
        return st;
      }
      v->owns_data = true;
      goto done;
    }
  }
  OXRT_TRY(oxrt_tensor_new(t, rank, dims, &v));
done:
  v->arena_slot = slot;
  oxrt_value_free(ctx->outputs[i]);
  ctx->outputs[i] = v;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_set_output(oxrt_kernel_ctx *ctx, int i, oxrt_value *v) {
  if (i < 0 || i >= ctx->n_outputs) {
    oxrt_value_free(v);
    return oxrt_error(OXRT_ERR_RUNTIME, "kernel wrote output %d but the node has %d outputs", i, ctx->n_outputs);
  }
  oxrt_value_free(ctx->outputs[i]);
  ctx->outputs[i] = v;
  return NULL;
}

oxrt_status *oxrt_check_tensor(const oxrt_value *v, int index, const char *what) {
  if (!v) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (%s) is missing", index, what);
  if (v->kind != OXRT_KIND_TENSOR) {
    char b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (%s) must be a tensor, got %s", index, what,
                      oxrt_value_describe(v, b, sizeof b));
  }
  return NULL;
}

/* ------------------------------------------------------------------ frames */
static const oxrt_value *lookup_outer(const oxrt_frame *f, int id) {
  const oxrt_graph *g = f->plan->graph;
  const char *name = g->values[id].name;
  for (const oxrt_frame *p = f->parent; p; p = p->parent) {
    int pid = oxrt_graph_find((oxrt_graph *)p->plan->graph, name);
    if (pid >= 0 && p->vals[pid]) return p->vals[pid];
  }
  return NULL;
}

static void frame_release(oxrt_frame *f) {
  int n = f->plan->graph->n_values;
  for (int i = 0; i < n; i++)
    if (f->owned[i]) recycle(f->pool, f->vals[i]);
}

static oxrt_status *hand_out(const oxrt_frame *f, int id, bool *taken, oxrt_value **out) {
  oxrt_value *v = f->vals[id];
  if (!v)
    return oxrt_error(OXRT_ERR_RUNTIME, "output '%s' was not computed", f->plan->graph->values[id].name);
  if (f->owned[id] && !taken[id]) {
    taken[id] = true;
    *out = v;
    return NULL;
  }
  return oxrt_value_clone(v, out);
}

/* A stop check for parallel loops inside this run's nodes (threadpool.h): latched, see run_options.h. */
static bool run_stop_check(void *rs) { return oxrt_run_state_stop_latched(rs); }

/* The status of a node that ran while the run was told to stop: whatever it returned may be incomplete. */
static oxrt_status *cut_status(const oxrt_run_state *rs) {
  oxrt_status *st = oxrt_run_state_check(rs);
  return st ? st : oxrt_error(OXRT_ERR_CANCELLED, "run was terminated while this node ran");
}

/* A frame's arrays in one allocation; small graphs (most If and Loop bodies: up to ~100 values) use the stack,
 * kept small since nested subgraphs (up to the subgraph_depth limit) each take one. */
#define FRAME_STACK_BYTES 1536

oxrt_status *oxrt_frame_run(oxrt_session *s, const oxrt_graph_plan *plan, oxrt_frame *parent, oxrt_buffer_pool *pool,
                            const int *input_ids, const oxrt_value *const *inputs, int n_inputs, const int *want,
                            int n_want, oxrt_value **outputs) {
  const oxrt_graph *g = plan->graph;
  oxrt_frame f = {plan, parent, s, NULL, NULL, pool};
  const size_t nv = (size_t)g->n_values + 1, nin = (size_t)plan->max_inputs + 1, nout = (size_t)plan->max_outputs + 1;
  const size_t bytes = (nv + nin + nout) * sizeof(void *) + 2 * nv * sizeof(bool);
  _Alignas(void *) unsigned char stack[FRAME_STACK_BYTES];
  unsigned char *mem = bytes <= sizeof stack ? stack : malloc(bytes);
  if (!mem) return OXRT_OOM();
  memset(mem, 0, bytes);
  f.vals = (oxrt_value **)mem;
  const oxrt_value **kin = (const oxrt_value **)(f.vals + nv);
  oxrt_value **kout = (oxrt_value **)(kin + nin);
  f.owned = (bool *)(kout + nout);
  bool *taken = f.owned + nv;
  oxrt_status *st = NULL;
  oxrt_run_state *rs = pool ? (oxrt_run_state *)pool->run : NULL; /* the run's own state, latched from here */
  /* parallel loops of a cancellable run skip their remaining chunks once it should stop (set by the top frame) */
  oxrt_stop_check check = {run_stop_check, rs};
  const oxrt_stop_check *prev_check = NULL;
  const bool install = !parent && rs && rs->ro;
  if (install) prev_check = oxrt_parallel_stop_swap(&check);

  for (int i = 0; i < g->n_values; i++) {
    const oxrt_value_def *d = &g->values[i];
    if (d->init) f.vals[i] = d->init;
    else if (d->is_outer && parent) {
      int src = plan->outer_src[i];
      f.vals[i] = src >= 0 && parent->vals[src] ? parent->vals[src] : (oxrt_value *)lookup_outer(&f, i);
    }
  }
  for (int i = 0; i < n_inputs; i++)
    if (inputs[i]) f.vals[input_ids[i]] = (oxrt_value *)inputs[i];

  for (int k = 0; k < plan->n_steps && !st; k++) {
    /* the terminate flag and time limit are checked between nodes, and inside them by parallel loops */
    if (rs && (st = oxrt_run_state_check(rs))) break;
    const oxrt_node_plan *np = &plan->steps[k];
    const oxrt_node *nd = np->node;
    for (int i = 0; i < nd->n_inputs; i++) {
      kin[i] = nd->inputs[i] >= 0 ? f.vals[nd->inputs[i]] : NULL;
      if (nd->inputs[i] >= 0 && !kin[i] && !g->values[nd->inputs[i]].is_input)
        st = oxrt_error(OXRT_ERR_RUNTIME, "input %d '%s' has no value", i, g->values[nd->inputs[i]].name);
      else if (nd->inputs[i] >= 0 && !kin[i] &&
               !(g->values[nd->inputs[i]].type && g->values[nd->inputs[i]].type->kind == OXRT_KIND_OPTIONAL))
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "graph input '%s' was not fed", g->values[nd->inputs[i]].name);
    }
    const oxrt_op_impl *impl = np->impl;
    if (!st && impl->type_mask) {
      const oxrt_value *tin = impl->type_input < nd->n_inputs ? kin[impl->type_input] : NULL;
      if (tin && tin->kind == OXRT_KIND_TENSOR && !(impl->type_mask & OXRT_TBIT(tin->dtype)))
        st = oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input %d has element type %s, which this operator does not support",
                        impl->type_input, oxrt_elem_type_name(tin->dtype));
    }
    if (!st) {
      for (int o = 0; o < nd->n_outputs; o++) kout[o] = NULL;
      oxrt_kernel_ctx ctx = {nd, np->opset, np->state, nd->n_inputs, nd->n_outputs, kin, kout, s->pool, &f};
      const bool timed = s->profiler.enabled;
      int64_t t_start = timed ? oxrt_now_ns() : 0;
      st = impl->run(&ctx);
      if (timed) oxrt_profiler_add(&s->profiler, nd->name, nd->op_type, t_start, oxrt_now_ns());
      /* a loop inside the node saw the stop: its outputs may be partial, never hand them on as a success */
      if (!st && oxrt_run_state_was_cut(rs)) st = cut_status(rs);
      for (int o = 0; o < nd->n_outputs; o++) {
        int id = nd->outputs[o];
        if (!st && id >= 0 && !kout[o])
          st = oxrt_error(OXRT_ERR_RUNTIME, "kernel produced no value for output %d '%s'", o, g->values[id].name);
        if (st || id < 0) {
          recycle(pool, kout[o]);
          continue;
        }
        if (f.owned[id]) recycle(pool, f.vals[id]);
        f.vals[id] = kout[o];
        f.owned[id] = true;
        if (s->opts.node_output_fn && !parent)
          s->opts.node_output_fn(s->opts.node_output_user, nd->name, nd->op_type, g->values[id].name, kout[o]);
      }
    }
    if (st) {
      st = oxrt_error_prefix(st, "node '%s' (%s%s%s, opset %d): ", nd->name, *nd->domain ? nd->domain : "",
                             *nd->domain ? ":" : "", nd->op_type, np->opset);
      break;
    }
    for (int q = 0; q < np->n_free; q++) {
      int id = np->free_ids[q];
      if (f.owned[id]) {
        recycle(pool, f.vals[id]);
        f.owned[id] = false;
      }
      f.vals[id] = NULL;
    }
  }
  for (int i = 0; !st && i < n_want; i++) {
    st = hand_out(&f, want[i], taken, &outputs[i]);
    if (st) {
      for (int j = 0; j < i; j++) {
        if (!taken[want[j]]) oxrt_value_free(outputs[j]);
        outputs[j] = NULL;
      }
      /* values already taken are still referenced by the frame: drop ownership there */
    }
  }
  if (!st)
    for (int i = 0; i < g->n_values; i++)
      if (taken[i]) f.owned[i] = false;
  if (install) oxrt_parallel_stop_swap(prev_check);
  frame_release(&f);
  if (mem != stack) free(mem);
  return st;
}

bool oxrt_should_stop(const oxrt_kernel_ctx *ctx) {
  return ctx && ctx->frame && ctx->frame->pool && oxrt_run_state_stop_latched((oxrt_run_state *)ctx->frame->pool->run);
}

oxrt_status *oxrt_subgraph_run(oxrt_kernel_ctx *ctx, const oxrt_graph *g, const oxrt_value *const *inputs,
                               int n_inputs, oxrt_value **outputs) {
  oxrt_frame *parent = ctx->frame;
  const oxrt_graph_plan *plan = oxrt_plan_of(parent->session, g);
  if (!plan) return oxrt_error(OXRT_ERR_RUNTIME, "subgraph '%s' was not planned", g->name);
  if (n_inputs > g->n_inputs)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "subgraph '%s' takes %d inputs but %d were given", g->name, g->n_inputs,
                      n_inputs);
  return oxrt_frame_run(parent->session, plan, parent, parent->pool, g->inputs, inputs, n_inputs, g->outputs,
                        g->n_outputs, outputs);
}

void oxrt_session_log(const oxrt_session *s, oxrt_log_level level, const char *fmt, ...) {
  if (!s->opts.log_fn || level < s->opts.log_min) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s->opts.log_fn(s->opts.log_user, level, buf);
}
