/* TreeEnsemble.c - ai.onnx.ml TreeEnsembleRegressor (1, 3), TreeEnsembleClassifier (1, 3) and TreeEnsemble (5).
 *
 * All three compile their attributes at prepare into one flat forest: internal nodes (mode, feature, threshold or
 * set, missing-value direction, two children) and leaves (a run of (target, weight) pairs). Children are encoded as
 * node index >= 0 or -(leaf index + 1). Evaluation walks every tree per row and aggregates per target. */
#include "ml_common.h"
#include <float.h>
#include <stdio.h>

enum { TM_LEQ, TM_LT, TM_GTE, TM_GT, TM_EQ, TM_NEQ, TM_MEMBER };
enum { AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct {
  int64_t feature;
  double value;
  int32_t child[2]; /* [0] true, [1] false */
  int32_t set_off, set_len;
  uint8_t mode, miss_true;
} tnode;

typedef struct {
  tnode *nodes;
  size_t n_nodes;
  int32_t *leaf_off, *leaf_len; /* per leaf: run in targets/weights */
  size_t n_leaves;
  int64_t *targets;
  double *weights;
  double *sets; /* membership values */
  int32_t *roots;
  size_t n_trees;
  int64_t max_feature, n_targets;
  int agg, post;
  double *base; /* n_targets or NULL */
  /* classifier */
  bool classifier, binary, str_labels, all_pos;
  bool zero_unhit; /* legacy regressor: a target no leaf reached reads 0, base value not added (as ONNX Runtime) */
  int64_t n_classes;
  const int64_t *labels_i;
  const char **labels_s;
  int64_t bin_class; /* class id carrying the score in the binary case */
  /* fast path for float input (forest_fast): 16-byte nodes with float thresholds, one comparison mode for the
   * whole forest, leaf runs summed (SUM/AVERAGE). fmode < 0 when the forest does not qualify. */
  struct fnode *fnodes; /* fni internal nodes, then one self-looping node per leaf (forest_layout) */
  int32_t *froots, fni;
  size_t *tblk, n_tblk; /* tree blocks: trees [tblk[b], tblk[b + 1]) */
  int32_t *ftargets;    /* targets as int32, parallel to weights */
  bool lone;            /* one target, or one entry per leaf: */
  double *lw;           /* each leaf's (summed) weight */
  int32_t *lt;          /* and its target; otherwise */
  int32_t *lo, *ll;     /* each leaf's run in ftargets/weights */
  int fmode;
  bool fmiss; /* some node sends a missing value (NaN) to its true branch: such rows take the general walk */
  /* bit-mask path (forest_qs), when every tree has at most 32 leaves: per tree its internal nodes (column of the
   * used-feature table, threshold, mask of the leaves NOT under the true child) and leaves in true-first order */
  int32_t *qcol, *qtn, *qleaf; /* qtn: tree t's nodes are [qtn[t], qtn[t + 1]); qleaf[32 t + bit] = leaf */
  float *qthr;
  uint32_t *qmask;
  int32_t *qfeat; /* used features, one column each */
  size_t qncol;
} forest;

typedef struct fnode {
  float thr;
  int32_t feat;
  int32_t child[2]; /* [0] true, [1] false; < 0: ~leaf */
} fnode;

static void forest_release(void *p) {
  forest *f = p;
  if (!f) return;
  free(f->nodes), free(f->leaf_off), free(f->leaf_len), free(f->targets), free(f->weights), free(f->sets);
  free(f->roots), free(f->base);
  free(f->fnodes), free(f->froots), free(f->tblk), free(f->ftargets), free(f->lw), free(f->lt), free(f->lo), free(f->ll);
  free(f->qcol), free(f->qtn), free(f->qleaf), free(f->qthr), free(f->qmask), free(f->qfeat);
  free(f);
}

static int parse_mode(const char *s) {
  static const char *names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"};
  for (int i = 0; i < 6; i++)
    if (!strcmp(s, names[i])) return i;
  return !strcmp(s, "LEAF") ? 100 : -1;
}

/* Checks that every tree is finite (no cycles, children in range) by walking each root with a depth bound. */
static oxrt_status *forest_check(const forest *f) {
  for (size_t i = 0; i < f->n_nodes; i++)
    for (int c = 0; c < 2; c++) {
      int32_t ch = f->nodes[i].child[c];
      if (ch >= 0 ? (size_t)ch >= f->n_nodes : (size_t)(-(int64_t)ch - 1) >= f->n_leaves)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tree node %zu has an out-of-range child", i);
      if (ch >= 0 && (size_t)ch <= i) {
        /* a child before its parent is legal, but then make sure no cycle exists (checked below) */
      }
    }
  /* cycle check: iterative DFS colouring */
  uint8_t *state = calloc(f->n_nodes + 1, 1);
  int32_t *stack = malloc(sizeof(int32_t) * (2 * f->n_nodes + 2));
  if (!state || !stack) {
    free(state), free(stack);
    return OXRT_OOM();
  }
  oxrt_status *st = NULL;
  for (size_t r = 0; r < f->n_trees && !st; r++) {
    if (f->roots[r] < 0) continue;
    size_t sp = 0;
    stack[sp++] = f->roots[r];
    while (sp && !st) {
      int32_t n = stack[sp - 1];
      if (state[n] == 0) {
        state[n] = 1;
        /* stop at the first cycle: a node whose two children both close one would report it twice */
        for (int c = 0; c < 2 && !st; c++) {
          int32_t ch = f->nodes[n].child[c];
          if (ch < 0) continue;
          if (state[ch] == 1) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tree %zu contains a cycle", r);
          else if (state[ch] == 0) stack[sp++] = ch;
        }
      } else {
        if (state[n] == 1) state[n] = 2;
        sp--;
      }
    }
  }
  free(state), free(stack);
  return st;
}

/* ------------------------------------------------------------ legacy attribute layout (Regressor, Classifier) */
typedef struct {
  int64_t tree, node;
  size_t idx;
} tn_key;

static int key_cmp(const void *a, const void *b) {
  const tn_key *x = a, *y = b;
  if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
  if (x->node != y->node) return x->node < y->node ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int64_t find_key(const tn_key *keys, size_t n, int64_t tree, int64_t node) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (keys[mid].tree < tree || (keys[mid].tree == tree && keys[mid].node < node))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && keys[lo].tree == tree && keys[lo].node == node ? (int64_t)keys[lo].idx : -1;
}

static oxrt_status *legacy_build(const oxrt_node *node, forest *f, const char *pfx) {
  size_t n = 0, n2;
  const int64_t *treeids = oxrt_attr_ints(node, "nodes_treeids", &n);
  const int64_t *nodeids = oxrt_attr_ints(node, "nodes_nodeids", &n2);
  if (!treeids || !nodeids || n2 != n || !n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nodes_treeids and nodes_nodeids must be present with equal lengths");
  size_t nf, nt, nfl, nm, nmiss = 0, nv;
  const int64_t *feat = oxrt_attr_ints(node, "nodes_featureids", &nf);
  const int64_t *tru = oxrt_attr_ints(node, "nodes_truenodeids", &nt);
  const int64_t *fal = oxrt_attr_ints(node, "nodes_falsenodeids", &nfl);
  const int64_t *miss = oxrt_attr_ints(node, "nodes_missing_value_tracks_true", &nmiss);
  const char **modes = ml_attr_strings(node, "nodes_modes", &nm);
  if (!feat || !tru || !fal || !modes || nf != n || nt != n || nfl != n || nm != n || (miss && nmiss != n))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "node attributes must all have %zu entries", n);
  double *vals = NULL;
  OXRT_TRY(ml_attr_doubles(node, "nodes_values", "nodes_values_as_tensor", &vals, &nv));
  if (nv != n) {
    free(vals);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nodes_values has %zu entries, expected %zu", nv, n);
  }
  char an[64];
  size_t ne, ne2, ne3, nw;
  snprintf(an, sizeof an, "%s_treeids", pfx);
  const int64_t *e_tree = oxrt_attr_ints(node, an, &ne);
  snprintf(an, sizeof an, "%s_nodeids", pfx);
  const int64_t *e_node = oxrt_attr_ints(node, an, &ne2);
  snprintf(an, sizeof an, "%s_ids", pfx);
  const int64_t *e_id = oxrt_attr_ints(node, an, &ne3);
  double *e_w = NULL;
  char atn[64];
  snprintf(an, sizeof an, "%s_weights", pfx);
  snprintf(atn, sizeof atn, "%s_weights_as_tensor", pfx);
  oxrt_status *st = ml_attr_doubles(node, an, atn, &e_w, &nw);
  tn_key *keys = NULL;
  int32_t *slot = NULL;
  if (st) goto out;
  if (!ne) e_tree = e_node = e_id = NULL, ne = ne2 = ne3 = 0;
  if ((ne && (!e_tree || !e_node || !e_id)) || ne2 != ne || ne3 != ne || nw != ne) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s_treeids/nodeids/ids/weights must have equal lengths", pfx);
    goto out;
  }
  keys = malloc(sizeof(tn_key) * n);
  slot = malloc(sizeof(int32_t) * n);
  if (!keys || !slot) {
    st = OXRT_OOM();
    goto out;
  }
  for (size_t i = 0; i < n; i++) keys[i] = (tn_key){treeids[i], nodeids[i], i};
  qsort(keys, n, sizeof *keys, key_cmp);
  for (size_t i = 1; i < n; i++)
    if (keys[i].tree == keys[i - 1].tree && keys[i].node == keys[i - 1].node) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "node (tree %lld, id %lld) is defined twice", (long long)keys[i].tree,
                      (long long)keys[i].node);
      goto out;
    }
  /* split into internal nodes and leaves */
  for (size_t i = 0; i < n; i++) {
    int m = parse_mode(modes[i]);
    if (m < 0) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown nodes_modes value '%s'", modes[i]);
      goto out;
    }
    if (m == 100)
      slot[i] = -(int32_t)(++f->n_leaves);
    else
      slot[i] = (int32_t)f->n_nodes++;
  }
  f->nodes = calloc(f->n_nodes + 1, sizeof(tnode));
  f->leaf_off = calloc(f->n_leaves + 1, sizeof(int32_t));
  f->leaf_len = calloc(f->n_leaves + 1, sizeof(int32_t));
  f->targets = malloc(sizeof(int64_t) * (ne + 1));
  f->weights = malloc(sizeof(double) * (ne + 1));
  if (!f->nodes || !f->leaf_off || !f->leaf_len || !f->targets || !f->weights) {
    st = OXRT_OOM();
    goto out;
  }
  f->max_feature = -1;
  for (size_t i = 0; i < n; i++) {
    if (slot[i] < 0) continue;
    tnode *t = &f->nodes[slot[i]];
    t->mode = (uint8_t)parse_mode(modes[i]);
    t->feature = feat[i];
    t->value = vals[i];
    t->miss_true = miss && miss[i] != 0;
    if (feat[i] < 0) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nodes_featureids[%zu] is negative", i);
      goto out;
    }
    if (feat[i] > f->max_feature) f->max_feature = feat[i];
    const int64_t *kids[2] = {tru, fal};
    for (int c = 0; c < 2; c++) {
      int64_t j = find_key(keys, n, treeids[i], kids[c][i]);
      if (j < 0) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "node (tree %lld, id %lld) points to missing node %lld",
                        (long long)treeids[i], (long long)nodeids[i], (long long)kids[c][i]);
        goto out;
      }
      t->child[c] = slot[j];
    }
  }
  /* leaf entries grouped by leaf */
  int32_t *entry_leaf = malloc(sizeof(int32_t) * (ne + 1));
  if (!entry_leaf) {
    st = OXRT_OOM();
    goto out;
  }
  for (size_t e = 0; e < ne; e++) {
    int64_t j = find_key(keys, n, e_tree[e], e_node[e]);
    if (j < 0 || slot[j] >= 0) {
      free(entry_leaf);
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s entry %zu refers to (tree %lld, id %lld), which is not a leaf", pfx,
                      e, (long long)e_tree[e], (long long)e_node[e]);
      goto out;
    }
    entry_leaf[e] = -slot[j] - 1;
    f->leaf_len[entry_leaf[e]]++;
  }
  for (size_t l = 1; l < f->n_leaves; l++) f->leaf_off[l] = f->leaf_off[l - 1] + f->leaf_len[l - 1];
  for (size_t l = 0; l < f->n_leaves; l++) f->leaf_len[l] = 0;
  for (size_t e = 0; e < ne; e++) {
    int32_t l = entry_leaf[e];
    size_t k = (size_t)(f->leaf_off[l] + f->leaf_len[l]++);
    f->targets[k] = e_id[e];
    f->weights[k] = e_w[e];
  }
  free(entry_leaf);
  /* roots: the first-listed node of each tree (lowest attribute index) */
  f->roots = malloc(sizeof(int32_t) * (n + 1));
  if (!f->roots) {
    st = OXRT_OOM();
    goto out;
  }
  for (size_t i = 0; i < n;) {
    size_t j = i, best = keys[i].idx;
    while (j < n && keys[j].tree == keys[i].tree) best = keys[j].idx < best ? keys[j].idx : best, j++;
    f->roots[f->n_trees++] = slot[best];
    i = j;
  }
  st = forest_check(f);
out:
  free(vals), free(e_w), free(keys), free(slot);
  return st;
}

/* ------------------------------------------------------------ evaluation */
static int32_t walk(const forest *f, int32_t cur, const oxrt_value *x, size_t row_off) {
  while (cur >= 0) {
    const tnode *t = &f->nodes[cur];
    double v = ml_get(x, row_off + (size_t)t->feature);
    bool r;
    if (isnan(v)) {
      r = t->miss_true;
    } else {
      switch (t->mode) {
      case TM_LEQ: r = v <= t->value; break;
      case TM_LT: r = v < t->value; break;
      case TM_GTE: r = v >= t->value; break;
      case TM_GT: r = v > t->value; break;
      case TM_EQ: r = v == t->value; break;
      case TM_NEQ: r = v != t->value; break;
      default:
        r = false;
        for (int32_t k = 0; k < t->set_len && !r; k++) r = f->sets[t->set_off + k] == v;
        break;
      }
    }
    cur = t->child[r ? 0 : 1];
  }
  return -cur - 1;
}

/* Aggregated raw scores of one row into s[n_targets]. */
static void forest_row(const forest *f, const oxrt_value *x, size_t row_off, double *s, uint8_t *hit) {
  for (int64_t t = 0; t < f->n_targets; t++) s[t] = 0, hit[t] = 0;
  for (size_t r = 0; r < f->n_trees; r++) {
    int32_t leaf = walk(f, f->roots[r], x, row_off);
    for (int32_t k = 0; k < f->leaf_len[leaf]; k++) {
      size_t e = (size_t)(f->leaf_off[leaf] + k);
      int64_t t = f->targets[e];
      double w = f->weights[e];
      if (f->agg == AGG_MIN)
        s[t] = hit[t] ? fmin(s[t], w) : w;
      else if (f->agg == AGG_MAX)
        s[t] = hit[t] ? fmax(s[t], w) : w;
      else
        s[t] += w;
      hit[t] = 1;
    }
  }
  if (f->agg == AGG_AVERAGE && f->n_trees)
    for (int64_t t = 0; t < f->n_targets; t++) s[t] /= (double)f->n_trees;
  if (f->base)
    for (int64_t t = 0; t < f->n_targets; t++) s[t] += f->base[t];
  if (f->zero_unhit)
    for (int64_t t = 0; t < f->n_targets; t++)
      if (!hit[t]) s[t] = 0;
}

/* Lays the fast path's nodes out tree by tree in depth-first order (true child first): internal nodes first, then
 * one self-looping node per leaf, so that a block of rows can step in lockstep until every row sits on a leaf.
 * Consecutive trees are grouped into blocks of about FOREST_BLOCK_BYTES that stay in cache while many rows walk
 * them. Nodes no root reaches are dropped. False when out of memory. */
#define FOREST_BLOCK_BYTES (16 << 10)
static bool forest_layout(forest *f, size_t ne) {
  size_t ni = f->n_nodes, nl = f->n_leaves, nt = f->n_trees;
  int32_t *nmap = malloc(sizeof(int32_t) * (ni + 1)), *lmap = malloc(sizeof(int32_t) * (nl + 1));
  int32_t *lorig = malloc(sizeof(int32_t) * (nl + 1)), *stack = malloc(sizeof(int32_t) * (2 * ni + 2));
  size_t *tend = malloc(sizeof(size_t) * (nt + 1));
  bool ok = nmap && lmap && lorig && stack && tend;
  if (!ok) goto out;
  for (size_t i = 0; i < ni; i++) nmap[i] = -1;
  for (size_t l = 0; l < nl; l++) lmap[l] = -1;
  int32_t na = 0, nb = 0;
  for (size_t t = 0; t < nt; t++) {
    int32_t r = f->roots[t];
    if (r < 0) {
      if (lmap[~r] < 0) lorig[nb] = ~r, lmap[~r] = nb++;
    } else {
      size_t sp = 0;
      stack[sp++] = r;
      while (sp) { /* pre-order, the true child right after its parent */
        int32_t n = stack[--sp];
        if (nmap[n] >= 0) continue;
        nmap[n] = na++;
        const tnode *p = &f->nodes[n];
        for (int c = 0; c < 2; c++)
          if (p->child[c] < 0 && lmap[~p->child[c]] < 0) lorig[nb] = ~p->child[c], lmap[~p->child[c]] = nb++;
        if (p->child[1] >= 0) stack[sp++] = p->child[1];
        if (p->child[0] >= 0) stack[sp++] = p->child[0];
      }
    }
    tend[t] = (size_t)na + (size_t)nb; /* cumulative nodes up to this tree */
  }
  f->fni = na;
  size_t total = (size_t)na + (size_t)nb;
  f->fnodes = malloc(sizeof(fnode) * (total + 1));
  f->froots = malloc(sizeof(int32_t) * (nt + 1));
  f->tblk = malloc(sizeof(size_t) * (nt + 2));
  f->ftargets = malloc(sizeof(int32_t) * (ne + 1));
  ok = f->fnodes && f->froots && f->tblk && f->ftargets;
  if (ok && f->lone) {
    f->lw = malloc(sizeof(double) * ((size_t)nb + 1));
    f->lt = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    ok = f->lw && f->lt;
  } else if (ok) {
    f->lo = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    f->ll = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    ok = f->lo && f->ll;
  }
  if (!ok) goto out;
#define FAST_CHILD(c) ((c) >= 0 ? nmap[c] : na + lmap[~(c)])
  for (size_t i = 0; i < ni; i++) {
    if (nmap[i] < 0) continue;
    const tnode *t = &f->nodes[i];
    f->fnodes[nmap[i]] = (fnode){(float)t->value, (int32_t)t->feature, {FAST_CHILD(t->child[0]), FAST_CHILD(t->child[1])}};
  }
  for (size_t t = 0; t < nt; t++) f->froots[t] = FAST_CHILD(f->roots[t]);
#undef FAST_CHILD
  for (int32_t l = 0; l < nb; l++) f->fnodes[na + l] = (fnode){0, 0, {na + l, na + l}};
  for (size_t e = 0; e < ne; e++) f->ftargets[e] = (int32_t)f->targets[e];
  for (int32_t l = 0; l < nb; l++) {
    int32_t o = lorig[l];
    if (f->lone) {
      double w = 0;
      for (int32_t k = 0; k < f->leaf_len[o]; k++) w += f->weights[f->leaf_off[o] + k];
      f->lw[l] = w;
      f->lt[l] = f->leaf_len[o] ? f->ftargets[f->leaf_off[o]] : 0;
    } else {
      f->lo[l] = f->leaf_off[o], f->ll[l] = f->leaf_len[o];
    }
  }
  /* tree blocks */
  f->n_tblk = 0;
  size_t start = 0;
  for (size_t t = 0; t < nt; t++) {
    if (t == 0 || (tend[t] - start) * sizeof(fnode) > FOREST_BLOCK_BYTES) {
      f->tblk[f->n_tblk++] = t;
      start = t ? tend[t - 1] : 0;
    }
  }
  f->tblk[f->n_tblk] = nt;
out:
  free(nmap), free(lmap), free(lorig), free(stack), free(tend);
  return ok;
}

/* ------------------------------------------------------------ bit-mask path
 * With at most 32 leaves per tree, a row's exit leaf is the first leaf (in true-child-first order) that no node
 * whose test fails rules out: a failed test at node n rules out the leaves under n's true child, so the exit leaf
 * is the lowest set bit of the AND of the failed nodes' masks. Every node is tested, but for a block of rows at
 * once from a transposed copy of the used features: no chain of dependent loads, and the loops vectorize across
 * rows. Leaves are summed in the same tree order as the walk, so results are the same bits. */
#define QS_MAX_COLS 4096 /* used features: the transposed block holds QS_MAX_COLS x FOREST_BLOCK floats at most */

/* Numbers the leaves under nd (true child first) from *nl on, appending tree t's nodes at *nn; false when the tree
 * has more than 32 leaves (a node reached twice counts twice: the tree is unfolded). */
static bool qs_visit(forest *f, int32_t nd, size_t t, int32_t *nn, int32_t *nl, const int32_t *col_of) {
  if (nd >= f->fni) {
    if (*nl >= 32) return false;
    f->qleaf[32 * t + (size_t)(*nl)++] = nd - f->fni;
    return true;
  }
  const fnode *p = &f->fnodes[nd];
  if (*nn - f->qtn[t] >= 31) return false; /* also bounds the recursion */
  int32_t me = (*nn)++, lo = *nl;
  if (!qs_visit(f, p->child[0], t, nn, nl, col_of)) return false;
  uint32_t under = (uint32_t)((((uint64_t)1 << *nl) - 1) ^ (((uint64_t)1 << lo) - 1));
  f->qcol[me] = col_of[p->feat], f->qthr[me] = p->thr, f->qmask[me] = ~under;
  return qs_visit(f, p->child[1], t, nn, nl, col_of);
}

static void forest_qs_build(forest *f) {
  size_t nt = f->n_trees, ni = (size_t)f->fni;
  int32_t maxf = -1;
  for (size_t i = 0; i < ni; i++) maxf = f->fnodes[i].feat > maxf ? f->fnodes[i].feat : maxf;
  int32_t *col_of = malloc(sizeof(int32_t) * ((size_t)maxf + 2));
  f->qtn = malloc(sizeof(int32_t) * (nt + 1));
  f->qleaf = malloc(sizeof(int32_t) * 32 * nt);
  /* an unfolded tree of <= 32 leaves has <= 31 nodes */
  size_t cap = 31 * nt + 1;
  f->qcol = malloc(sizeof(int32_t) * cap), f->qthr = malloc(sizeof(float) * cap);
  f->qmask = malloc(sizeof(uint32_t) * cap), f->qfeat = malloc(sizeof(int32_t) * ((size_t)maxf + 2));
  bool ok = col_of && f->qtn && f->qleaf && f->qcol && f->qthr && f->qmask && f->qfeat;
  if (ok) {
    f->qncol = 0;
    for (int32_t c = 0; c <= maxf; c++) col_of[c] = -1;
    for (size_t i = 0; i < ni; i++)
      if (col_of[f->fnodes[i].feat] < 0)
        col_of[f->fnodes[i].feat] = (int32_t)f->qncol, f->qfeat[f->qncol++] = f->fnodes[i].feat;
    ok = f->qncol <= QS_MAX_COLS;
  }
  int32_t nn = 0;
  for (size_t t = 0; t < nt && ok; t++) {
    int32_t nl = 0;
    f->qtn[t] = nn;
    ok = qs_visit(f, f->froots[t], t, &nn, &nl, col_of);
  }
  if (ok) f->qtn[nt] = nn;
  free(col_of);
  if (!ok) { /* too many leaves or out of memory: the lockstep walk serves */
    free(f->qcol), free(f->qtn), free(f->qleaf), free(f->qthr), free(f->qmask), free(f->qfeat);
    f->qcol = f->qtn = f->qleaf = f->qfeat = NULL, f->qthr = NULL, f->qmask = NULL;
  }
}

/* ------------------------------------------------------------ fast path
 * Built once at prepare when the forest allows it; a row block walks each tree in turn so the tree stays in
 * cache across the block's rows. Float input compared with float thresholds gives the same branch as the general
 * walk's double comparison (the thresholds are required to be exact floats). */
static void forest_fast(forest *f) {
  f->fmode = -1;
  if (f->agg != AGG_SUM && f->agg != AGG_AVERAGE) return;
  if (!f->n_trees || f->n_nodes > (size_t)INT32_MAX / 2) return;
  int mode = f->n_nodes ? f->nodes[0].mode : TM_LEQ;
  bool miss = false;
  for (size_t i = 0; i < f->n_nodes; i++) {
    const tnode *t = &f->nodes[i];
    if (t->mode != mode || t->mode > TM_GT || t->feature > INT32_MAX || (double)(float)t->value != t->value) return;
    miss |= t->miss_true;
  }
  size_t ne = f->n_leaves ? (size_t)(f->leaf_off[f->n_leaves - 1] + f->leaf_len[f->n_leaves - 1]) : 0;
  if (f->zero_unhit) { /* every leaf must carry every target, so that no target stays unhit */
    if (f->n_targets > 1) {
      uint8_t *seen = calloc((size_t)f->n_targets, 1);
      if (!seen) return;
      bool ok = true;
      for (size_t l = 0; l < f->n_leaves && ok; l++) {
        memset(seen, 0, (size_t)f->n_targets);
        int64_t cnt = 0;
        for (int32_t k = 0; k < f->leaf_len[l]; k++) {
          int64_t t = f->targets[f->leaf_off[l] + k];
          cnt += !seen[t], seen[t] = 1;
        }
        ok = cnt == f->n_targets;
      }
      free(seen);
      if (!ok) return;
    } else {
      for (size_t l = 0; l < f->n_leaves; l++)
        if (!f->leaf_len[l]) return;
    }
  }
  f->lone = f->n_targets == 1;
  if (!f->lone) {
    f->lone = true;
    for (size_t l = 0; l < f->n_leaves && f->lone; l++) f->lone = f->leaf_len[l] == 1;
  }
  if (!forest_layout(f, ne)) return; /* out of memory: the general path serves */
  f->fmiss = miss;
  f->fmode = mode;
  forest_qs_build(f);
}

#define FOREST_BLOCK 128 /* rows scored together (at most): every tree block serves them all */
#define FOREST_LANES 8

/* Sums the leaves reached by rows X[0..nr) (stride C) into s[nr][n_targets], which the caller zeroed. For each tree
 * block, rows walk each tree FOREST_LANES at a time in lockstep (leaves loop on themselves), so the walks' load
 * chains overlap instead of each waiting on the previous; one function per comparison mode keeps the steps free
 * of dispatch. */
#define FAST_BLOCK_FN(NAME, GO_TRUE)                                                                              \
  static void NAME(const forest *f, const float *X, size_t C, size_t nr, double *s) {                             \
    const fnode *fn = f->fnodes;                                                                                  \
    const int32_t *lo = f->lo, *ll = f->ll, *tg = f->ftargets, *lt = f->lt;                                       \
    const double *w = f->weights, *lw = f->lw;                                                                    \
    size_t nt = (size_t)f->n_targets;                                                                             \
    int32_t ni = f->fni;                                                                                          \
    for (size_t b = 0; b < f->n_tblk; b++)                                                                        \
      for (size_t i0 = 0; i0 < nr; i0 += FOREST_LANES) {                                                         \
        const float *xs[FOREST_LANES];                                                                            \
        size_t nl = nr - i0 < FOREST_LANES ? nr - i0 : FOREST_LANES;                                              \
        for (size_t k = 0; k < FOREST_LANES; k++) xs[k] = X + (i0 + (k < nl ? k : nl - 1)) * C;                   \
        for (size_t t = f->tblk[b]; t < f->tblk[b + 1]; t++) {                                                    \
          int32_t nd[FOREST_LANES];                                                                               \
          for (size_t k = 0; k < FOREST_LANES; k++) nd[k] = f->froots[t];                                         \
          if (nd[0] < ni)                                                                                         \
            for (;;) {                                                                                            \
              int act = 0;                                                                                        \
              for (size_t k = 0; k < FOREST_LANES; k++) {                                                         \
                const fnode *p = fn + nd[k];                                                                      \
                float v = xs[k][p->feat];                                                                         \
                nd[k] = p->child[(GO_TRUE) ? 0 : 1];                                                              \
                act |= nd[k] < ni;                                                                                \
              }                                                                                                   \
              if (!act) break;                                                                                    \
            }                                                                                                     \
          for (size_t k = 0; k < nl; k++) {                                                                       \
            int32_t l = nd[k] - ni;                                                                               \
            if (lw) {                                                                                             \
              s[(i0 + k) * nt + (size_t)lt[l]] += lw[l];                                                          \
            } else {                                                                                              \
              double *si = s + (i0 + k) * nt;                                                                     \
              for (int32_t q = lo[l], e = lo[l] + ll[l]; q < e; q++) si[tg[q]] += w[q];                           \
            }                                                                                                     \
          }                                                                                                       \
        }                                                                                                         \
      }                                                                                                           \
  }
FAST_BLOCK_FN(fast_block_leq, v <= p->thr)
FAST_BLOCK_FN(fast_block_lt, v < p->thr)
FAST_BLOCK_FN(fast_block_gte, v >= p->thr)
FAST_BLOCK_FN(fast_block_gt, v > p->thr)

/* Bit-mask scoring of rows X[0..nr) into s (zeroed by the caller); xt: qncol x QS_PAD(nr) floats, m: QS_PAD(nr)
 * masks. Rows go QS_W at a time in generic vectors (the pad rows repeat the last row and are never read back). */
#define QS_W 4
#define QS_PAD(n) (((n) + QS_W - 1) / QS_W * QS_W)
typedef float qs_vf __attribute__((vector_size(4 * QS_W)));
typedef int32_t qs_vi __attribute__((vector_size(4 * QS_W)));
#define QS_BLOCK_FN(NAME, GO_TRUE)                                                                                \
  static void NAME(const forest *f, const float *X, size_t C, size_t nr, double *s, float *xt, uint32_t *m) {    \
    size_t np = QS_PAD(nr), nv = np / QS_W;                                                                       \
    for (size_t c = 0; c < f->qncol; c++) {                                                                       \
      const float *xc = X + f->qfeat[c];                                                                          \
      for (size_t r = 0; r < np; r++) xt[c * np + r] = xc[(r < nr ? r : nr - 1) * C];                             \
    }                                                                                                             \
    const int32_t *lo = f->lo, *ll = f->ll, *tg = f->ftargets, *lt = f->lt;                                       \
    const double *w = f->weights, *lw = f->lw;                                                                    \
    size_t nt = (size_t)f->n_targets;                                                                             \
    qs_vi *mv = (qs_vi *)m;                                                                                       \
    for (size_t t = 0; t < f->n_trees; t++) {                                                                     \
      for (size_t k = 0; k < nv; k++) mv[k] = (qs_vi){0} - 1;                                                     \
      for (int32_t q = f->qtn[t]; q < f->qtn[t + 1]; q++) {                                                       \
        const qs_vf *x = (const qs_vf *)(xt + (size_t)f->qcol[q] * np);                                           \
        const qs_vf thr = (qs_vf){0} + f->qthr[q];                                                                \
        const qs_vi bm = (qs_vi){0} + (int32_t)f->qmask[q];                                                       \
        for (size_t k = 0; k < nv; k++) {                                                                         \
          qs_vf v = x[k];                                                                                         \
          mv[k] &= bm | (GO_TRUE); /* a passed test (all ones) rules nothing out */                               \
        }                                                                                                         \
      }                                                                                                           \
      const int32_t *leaf = f->qleaf + 32 * t;                                                                    \
      for (size_t r = 0; r < nr; r++) {                                                                           \
        int32_t l = leaf[__builtin_ctz(m[r])];                                                                    \
        if (lw) {                                                                                                 \
          s[r * nt + (size_t)lt[l]] += lw[l];                                                                     \
        } else {                                                                                                  \
          double *si = s + r * nt;                                                                                \
          for (int32_t q = lo[l], e = lo[l] + ll[l]; q < e; q++) si[tg[q]] += w[q];                               \
        }                                                                                                         \
      }                                                                                                           \
    }                                                                                                             \
  }
QS_BLOCK_FN(qs_block_leq, v <= thr)
QS_BLOCK_FN(qs_block_lt, v < thr)
QS_BLOCK_FN(qs_block_gte, v >= thr)
QS_BLOCK_FN(qs_block_gt, v > thr)

/* Aggregated raw scores of rows [r0, r0 + nr) into s[nr][n_targets] (hit: n_targets scratch bytes). */
static void forest_scores(const forest *f, const oxrt_value *x, size_t C, size_t r0, size_t nr, double *s,
                          uint8_t *hit, float *xt, uint32_t *m) {
  size_t nt = (size_t)f->n_targets;
  if (f->fmode < 0 || x->dtype != OXRT_FLOAT || !C) {
    for (size_t i = 0; i < nr; i++) forest_row(f, x, (r0 + i) * C, s + i * nt, hit);
    return;
  }
  const float *X = (const float *)x->data + r0 * C;
  memset(s, 0, sizeof(double) * nr * nt);
  if (xt) {
    switch (f->fmode) {
    case TM_LEQ: qs_block_leq(f, X, C, nr, s, xt, m); break;
    case TM_LT: qs_block_lt(f, X, C, nr, s, xt, m); break;
    case TM_GTE: qs_block_gte(f, X, C, nr, s, xt, m); break;
    default: qs_block_gt(f, X, C, nr, s, xt, m); break;
    }
  } else {
    switch (f->fmode) {
    case TM_LEQ: fast_block_leq(f, X, C, nr, s); break;
    case TM_LT: fast_block_lt(f, X, C, nr, s); break;
    case TM_GTE: fast_block_gte(f, X, C, nr, s); break;
    default: fast_block_gt(f, X, C, nr, s); break;
    }
  }
  for (size_t i = 0; i < nr; i++) {
    double *si = s + i * nt;
    if (f->agg == AGG_AVERAGE)
      for (size_t t = 0; t < nt; t++) si[t] /= (double)f->n_trees;
    if (f->base)
      for (size_t t = 0; t < nt; t++) si[t] += f->base[t];
  }
  if (f->fmiss) /* rows with a missing value may need the true branch: redo them with the general walk */
    for (size_t i = 0; i < nr; i++) {
      bool nan = false;
      for (size_t c = 0; c < C; c++) nan |= isnan(X[i * C + c]);
      if (nan) forest_row(f, x, (r0 + i) * C, s + i * nt, hit);
    }
}

static bool tree_qs_enabled(void) {
  const char *e = getenv("OXRT_TREE_QS");
  return !e || strcmp(e, "0");
}

typedef struct {
  const forest *f;
  const oxrt_value *x;
  int64_t C;
  oxrt_value *y, *labels;
  int64_t n_out;
  bool oom;
} forest_job;

static void forest_rows(void *arg, size_t begin, size_t end) {
  forest_job *j = arg;
  const forest *f = j->f;
  size_t nt = (size_t)f->n_targets + 2;
  size_t rb = (32768 / nt) < FOREST_BLOCK ? (32768 / nt ? 32768 / nt : 1) : FOREST_BLOCK; /* many targets: fewer rows */
  double *sb = malloc(sizeof(double) * (rb * (size_t)f->n_targets + 2)), *o = malloc(sizeof(double) * (nt + 2));
  uint8_t *hit = malloc(nt);
  /* the bit-mask path's transposed block and masks (it takes the lockstep walk when OXRT_TREE_QS=0) */
  float *xt = NULL;
  uint32_t *m = NULL;
  bool qs = f->qtn && f->fmode >= 0 && j->x->dtype == OXRT_FLOAT && j->C && tree_qs_enabled();
  if (qs) /* sizes in whole 64-byte units, as aligned_alloc wants */
    xt = aligned_alloc(64, (sizeof(float) * f->qncol * QS_PAD(rb) + 63) / 64 * 64),
    m = aligned_alloc(64, (sizeof(uint32_t) * QS_PAD(rb) + 63) / 64 * 64);
  if (!sb || !o || !hit || (qs && (!xt || !m))) {
    j->oom = true;
    free(sb), free(o), free(hit), free(xt), free(m);
    return;
  }
  for (size_t r = begin; r < end; r++) {
    size_t bi = (r - begin) % rb;
    if (!bi) forest_scores(f, j->x, (size_t)j->C, r, end - r < rb ? end - r : rb, sb, hit, xt, m);
    double *s = sb + bi * (size_t)f->n_targets;
    if (!f->classifier) {
      ml_post(s, (size_t)f->n_targets, f->post);
      for (int64_t t = 0; t < f->n_targets; t++)
        oxrt_store_f64(j->y->dtype, j->y->data, r * (size_t)f->n_targets + (size_t)t, s[t]);
      continue;
    }
    size_t no = (size_t)j->n_out;
    size_t best = 0;
    if (f->binary) {
      /* ONNX Runtime's binary convention: one score v; all-positive weights read it as a probability
       * ([1-v, v], label when v > 0.5), otherwise as a margin ([-v, v], label when v > 0, LOGISTIC applied) */
      double v = s[f->bin_class];
      if (f->post == ML_PT_PROBIT) {
        o[1] = ml_probit(v), o[0] = -o[1];
      } else if (f->all_pos) {
        o[0] = 1.0 - v, o[1] = v;
      } else if (f->post == ML_PT_LOGISTIC) {
        o[0] = ml_logistic(-v), o[1] = ml_logistic(v);
      } else {
        o[0] = -v, o[1] = v;
      }
      best = (f->all_pos ? v > 0.5 : v > 0) ? 1 : 0;
    } else {
      memcpy(o, s, sizeof(double) * no);
      ml_post(o, no, f->post);
      for (size_t k = 1; k < no; k++)
        if (o[k] > o[best]) best = k;
    }
    for (size_t k = 0; k < no; k++) ((float *)j->y->data)[r * no + k] = (float)o[k];
    if (f->str_labels) {
      const char *lab = f->n_classes == 1 ? (best == 1 ? f->labels_s[0] : "") : f->labels_s[best];
      if (ml_set_str(j->labels, r, lab)) j->oom = true;
    } else {
      int64_t lab = f->n_classes == 1 ? (best == 1 ? f->labels_i[0] : 0) : f->labels_i[best];
      ((int64_t *)j->labels->data)[r] = lab;
    }
  }
  free(sb), free(o), free(hit), free(xt), free(m);
}

static oxrt_status *forest_input(const forest *f, const oxrt_value *x, int64_t *N, int64_t *C) {
  OXRT_TRY(ml_rows(x, 0, N, C));
  if (x->dtype == OXRT_STRING) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be numeric");
  if (f->max_feature >= *C)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the trees read feature %lld but the input has %lld features",
                      (long long)f->max_feature, (long long)*C);
  return NULL;
}

static oxrt_status *forest_go(oxrt_kernel_ctx *ctx, forest_job *j, int64_t N) {
  oxrt_parallel(ctx, (size_t)N, 16, forest_rows, j);
  return j->oom ? OXRT_OOM() : NULL;
}

/* ------------------------------------------------------------ TreeEnsembleRegressor */
static oxrt_status *parse_agg(const char *s, int *out) {
  static const char *names[] = {"AVERAGE", "SUM", "MIN", "MAX"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) return *out = i, NULL;
  return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "aggregate_function must be AVERAGE, SUM, MIN or MAX, got '%s'", s);
}

static oxrt_status *check_targets(forest *f, const char *what) {
  size_t ne = f->n_leaves ? (size_t)(f->leaf_off[f->n_leaves - 1] + f->leaf_len[f->n_leaves - 1]) : 0;
  for (size_t e = 0; e < ne; e++)
    if (f->targets[e] < 0 || f->targets[e] >= f->n_targets)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s %lld is outside [0, %lld)", what, (long long)f->targets[e],
                        (long long)f->n_targets);
  return NULL;
}

static oxrt_status *ter_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  forest *f = calloc(1, sizeof *f);
  if (!f) return OXRT_OOM();
  f->zero_unhit = true;
  oxrt_status *st = legacy_build(node, f, "target");
  if (!st) st = parse_agg(oxrt_attr_string(node, "aggregate_function", "SUM"), &f->agg);
  if (!st) st = ml_parse_post(oxrt_attr_string(node, "post_transform", "NONE"), &f->post);
  f->n_targets = oxrt_attr_int(node, "n_targets", 1);
  if (!st && f->n_targets < 1) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "n_targets must be positive");
  size_t nb = 0;
  if (!st) st = ml_attr_doubles(node, "base_values", "base_values_as_tensor", &f->base, &nb);
  if (!st && f->base && nb != (size_t)f->n_targets)
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "base_values has %zu entries, expected n_targets = %lld", nb,
                    (long long)f->n_targets);
  if (!st) st = check_targets(f, "target_ids");
  if (!st) forest_fast(f);
  return ml_prepared(st, f, forest_release, state);
}

/* Regression: scores [N, n_targets], float (TreeEnsembleRegressor) or the input's type (TreeEnsemble). */
static oxrt_status *forest_regress(oxrt_kernel_ctx *ctx, bool input_type) {
  const forest *f = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(forest_input(f, x, &N, &C));
  int64_t dims[2] = {N, f->n_targets};
  forest_job j = {.f = f, .x = x, .C = C};
  OXRT_TRY(oxrt_output_tensor(ctx, 0, input_type ? x->dtype : OXRT_FLOAT, 2, dims, &j.y));
  return forest_go(ctx, &j, N);
}

static oxrt_status *ter_run(oxrt_kernel_ctx *ctx) { return forest_regress(ctx, false); }

/* ------------------------------------------------------------ TreeEnsembleClassifier */
static oxrt_status *tec_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  forest *f = calloc(1, sizeof *f);
  if (!f) return OXRT_OOM();
  f->classifier = true;
  f->agg = AGG_SUM;
  oxrt_status *st = legacy_build(node, f, "class");
  if (!st) st = ml_parse_post(oxrt_attr_string(node, "post_transform", "NONE"), &f->post);
  size_t ni = 0, ns = 0;
  f->labels_i = oxrt_attr_ints(node, "classlabels_int64s", &ni);
  f->labels_s = ml_attr_strings(node, "classlabels_strings", &ns);
  if (!st && (ni == 0) == (ns == 0))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "exactly one of classlabels_int64s and classlabels_strings is needed");
  f->str_labels = ns > 0;
  f->n_classes = (int64_t)(ns ? ns : ni);
  f->n_targets = f->n_classes < 2 ? 2 : f->n_classes;
  size_t nb = 0;
  if (!st) st = ml_attr_doubles(node, "base_values", "base_values_as_tensor", &f->base, &nb);
  /* a binary model may carry one base value, for the single score */
  if (!st && f->base && nb != (size_t)f->n_classes && !(nb == 1 && f->n_classes <= 2))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "base_values has %zu entries, expected %lld", nb, (long long)f->n_classes);
  if (!st && f->base && nb < (size_t)f->n_targets) { /* widen to the internal columns */
    double *b = realloc(f->base, sizeof(double) * (size_t)f->n_targets);
    if (!b) st = OXRT_OOM();
    else {
      for (size_t i = nb; i < (size_t)f->n_targets; i++) b[i] = 0;
      f->base = b;
    }
  }
  if (!st) st = check_targets(f, "class_ids");
  if (!st) {
    /* binary: two (or one) labels and every weight on the same class */
    size_t ne = f->n_leaves ? (size_t)(f->leaf_off[f->n_leaves - 1] + f->leaf_len[f->n_leaves - 1]) : 0;
    bool same = true;
    for (size_t e = 1; e < ne && same; e++) same = f->targets[e] == f->targets[0];
    f->binary = f->n_classes <= 2 && same;
    f->all_pos = true;
    for (size_t e = 0; e < ne; e++)
      if (f->weights[e] < 0) f->all_pos = false;
    f->bin_class = ne ? f->targets[0] : 0;
    if (f->base && nb == 1 && f->bin_class != 0) f->base[f->bin_class] = f->base[0], f->base[0] = 0;
    forest_fast(f);
  }
  return ml_prepared(st, f, forest_release, state);
}

static oxrt_status *tec_run(oxrt_kernel_ctx *ctx) {
  const forest *f = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(forest_input(f, x, &N, &C));
  forest_job j = {.f = f, .x = x, .C = C, .n_out = f->binary ? 2 : f->n_classes};
  OXRT_TRY(ml_classifier_outputs(ctx, f->str_labels, N, j.n_out, &j.labels, &j.y));
  return forest_go(ctx, &j, N);
}

/* ------------------------------------------------------------ TreeEnsemble (ai.onnx.ml 5) */
static oxrt_status *te5_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  forest *f = calloc(1, sizeof *f);
  if (!f) return OXRT_OOM();
  oxrt_status *st = NULL;
  double *splits = NULL, *modes = NULL, *members = NULL;
  size_t n, nf, nt, nfl, ntl, nfll, nmiss = 0, nsp, nmo, nlt, nlw, nr, nmem = 0;
  const int64_t *feat = oxrt_attr_ints(node, "nodes_featureids", &nf);
  const int64_t *tru = oxrt_attr_ints(node, "nodes_truenodeids", &nt);
  const int64_t *fal = oxrt_attr_ints(node, "nodes_falsenodeids", &nfl);
  const int64_t *tleaf = oxrt_attr_ints(node, "nodes_trueleafs", &ntl);
  const int64_t *fleaf = oxrt_attr_ints(node, "nodes_falseleafs", &nfll);
  const int64_t *miss = oxrt_attr_ints(node, "nodes_missing_value_tracks_true", &nmiss);
  const int64_t *ltarget = oxrt_attr_ints(node, "leaf_targetids", &nlt);
  const int64_t *roots = oxrt_attr_ints(node, "tree_roots", &nr);
  if ((st = ml_attr_doubles(node, NULL, "nodes_splits", &splits, &nsp)) ||
      (st = ml_attr_doubles(node, NULL, "nodes_modes", &modes, &nmo)) ||
      (st = ml_attr_doubles(node, NULL, "leaf_weights", &f->weights, &nlw)) ||
      (st = ml_attr_doubles(node, NULL, "membership_values", &members, &nmem)))
    goto fail;
  n = nf;
  if (!feat || !tru || !fal || !tleaf || !fleaf || !ltarget || !roots || !splits || !f->weights || nt != n ||
      nfl != n || ntl != n || nfll != n || nsp != n || (modes && nmo != n) || (miss && nmiss != n) || nlt != nlw) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "TreeEnsemble node/leaf attributes are missing or have unequal lengths");
    goto fail;
  }
  f->n_nodes = n;
  f->n_leaves = nlt;
  f->n_trees = nr;
  f->nodes = calloc(n + 1, sizeof(tnode));
  f->leaf_off = malloc(sizeof(int32_t) * (nlt + 1));
  f->leaf_len = malloc(sizeof(int32_t) * (nlt + 1));
  f->targets = malloc(sizeof(int64_t) * (nlt + 1));
  f->roots = malloc(sizeof(int32_t) * (nr + 1));
  f->sets = malloc(sizeof(double) * (nmem + 1));
  if (!f->nodes || !f->leaf_off || !f->leaf_len || !f->targets || !f->roots || !f->sets) {
    st = OXRT_OOM();
    goto fail;
  }
  f->n_targets = oxrt_attr_int(node, "n_targets", 0);
  if (f->n_targets < 1) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "n_targets must be positive");
    goto fail;
  }
  for (size_t l = 0; l < nlt; l++) f->leaf_off[l] = (int32_t)l, f->leaf_len[l] = 1, f->targets[l] = ltarget[l];
  f->max_feature = -1;
  size_t mpos = 0, nset = 0;
  for (size_t i = 0; i < n; i++) {
    tnode *t = &f->nodes[i];
    int m = modes ? (int)modes[i] : TM_LEQ;
    if (m < TM_LEQ || m > TM_MEMBER) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nodes_modes[%zu] = %d is not a valid mode", i, m);
      goto fail;
    }
    t->mode = (uint8_t)m;
    t->feature = feat[i];
    t->value = splits[i];
    t->miss_true = miss && miss[i];
    if (feat[i] < 0) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nodes_featureids[%zu] is negative", i);
      goto fail;
    }
    if (feat[i] > f->max_feature) f->max_feature = feat[i];
    if (m == TM_MEMBER) { /* membership_values holds each MEMBER node's set, NaN-terminated, in node order */
      t->set_off = (int32_t)nset;
      while (mpos < nmem && !isnan(members[mpos])) f->sets[nset++] = members[mpos++];
      if (mpos >= nmem) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "membership_values lacks the set of node %zu", i);
        goto fail;
      }
      mpos++;
      t->set_len = (int32_t)nset - t->set_off;
    }
    int64_t kid[2] = {tru[i], fal[i]}, isleaf[2] = {tleaf[i], fleaf[i]};
    for (int c = 0; c < 2; c++) {
      if (kid[c] < 0 || (isleaf[c] ? (size_t)kid[c] >= nlt : (size_t)kid[c] >= n)) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "node %zu has an out-of-range child %lld", i, (long long)kid[c]);
        goto fail;
      }
      t->child[c] = isleaf[c] ? -(int32_t)kid[c] - 1 : (int32_t)kid[c];
    }
  }
  for (size_t r = 0; r < nr; r++) {
    if (roots[r] < 0 || (size_t)roots[r] >= (n ? n : nlt)) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tree_roots[%zu] = %lld is out of range", r, (long long)roots[r]);
      goto fail;
    }
    size_t k = (size_t)roots[r];
    /* a tree that is a single leaf: both branches point at the same leaf */
    if (n && tleaf[k] && fleaf[k] && tru[k] == fal[k])
      f->roots[r] = -(int32_t)tru[k] - 1;
    else
      f->roots[r] = (int32_t)k;
  }
  int64_t agg = oxrt_attr_int(node, "aggregate_function", 1), pt = oxrt_attr_int(node, "post_transform", 0);
  if (agg < 0 || agg > 3 || pt < 0 || pt > 4) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "aggregate_function must be 0..3 and post_transform 0..4");
    goto fail;
  }
  static const int agg_map[4] = {AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX};
  static const int pt_map[5] = {ML_PT_NONE, ML_PT_SOFTMAX, ML_PT_LOGISTIC, ML_PT_SOFTMAX_ZERO, ML_PT_PROBIT};
  f->agg = agg_map[agg];
  f->post = pt_map[pt];
  if ((st = check_targets(f, "leaf_targetids")) || (st = forest_check(f))) goto fail;
  forest_fast(f);
  free(splits), free(modes), free(members);
  *state = f;
  return NULL;
fail:
  free(splits), free(modes), free(members);
  forest_release(f);
  return st;
}

static oxrt_status *te5_run(oxrt_kernel_ctx *ctx) { return forest_regress(ctx, true); }

static const oxrt_op_impl ter_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = ter_prepare, .run = ter_run, .release = forest_release},
    {.since_version = 3, .type_mask = ML_TMASK_NUM, .prepare = ter_prepare, .run = ter_run, .release = forest_release},
};
static const oxrt_op_impl tec_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = tec_prepare, .run = tec_run, .release = forest_release},
    {.since_version = 3, .type_mask = ML_TMASK_NUM, .prepare = tec_prepare, .run = tec_run, .release = forest_release},
};
static const oxrt_op_impl te5_impls[] = {{.since_version = 5,
                                          .type_mask = OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) |
                                                       OXRT_TBIT(OXRT_FLOAT16),
                                          .prepare = te5_prepare,
                                          .run = te5_run,
                                          .release = forest_release}};
OXRT_REGISTER_OP(ml_TreeEnsembleRegressor) = {"ai.onnx.ml", "TreeEnsembleRegressor", OXRT_IMPLS(ter_impls)};
OXRT_REGISTER_OP(ml_TreeEnsembleClassifier) = {"ai.onnx.ml", "TreeEnsembleClassifier", OXRT_IMPLS(tec_impls)};
OXRT_REGISTER_OP(ml_TreeEnsemble) = {"ai.onnx.ml", "TreeEnsemble", OXRT_IMPLS(te5_impls)};
