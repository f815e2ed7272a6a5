/* cmd_graph.c - `oxrt graph MODEL -o OUT.svg`: the model as a Graphviz picture.
 *
 * Boxes are nodes (op type, name, weights with their shapes), edges carry the value's type and shape, ellipses
 * are graph inputs and outputs, subgraphs (If/Loop/Scan bodies) are clusters. Past --max-nodes (default 400)
 * the rest is summarised in one note box, so large models stay readable. Graphviz's `dot` renders .svg, .png
 * and .pdf; -o X.dot (or no -o) writes the DOT text only.
 */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *name, *op, *domain;
  int depth, cluster; /* cluster: index of the BEGIN record that opened its subgraph, -1 for the main graph */
  int n_in, n_out;
  char **in, **out, **in_type, **out_type;
  unsigned char *in_const;
} gnode;

typedef struct {
  gnode *v;
  int n, cap;
  int stack[64], top; /* open clusters */
  char *cluster_label[4096];
  int cluster_parent[4096], n_clusters;
} graph_rec;

static char **copy_strs(const char *const *s, size_t n) {
  char **r = calloc(n + 1, sizeof *r);
  for (size_t i = 0; r && i < n; i++) r[i] = strdup(s[i]);
  return r;
}

static int on_visit(void *user, oxrt_visit_event ev, const oxrt_node_view *nv, const char *sub) {
  graph_rec *g = user;
  if (ev == OXRT_VISIT_SUBGRAPH_BEGIN) {
    if (g->top == 64 || g->n_clusters == 4096) return 1;
    char label[512];
    snprintf(label, sizeof label, "%s %s.%s", nv->op_type, *nv->name ? nv->name : "", sub);
    g->cluster_label[g->n_clusters] = strdup(label);
    g->cluster_parent[g->n_clusters] = g->top ? g->stack[g->top - 1] : -1;
    g->stack[g->top++] = g->n_clusters++;
    return 0;
  }
  if (ev == OXRT_VISIT_SUBGRAPH_END) {
    if (g->top) g->top--;
    return 0;
  }
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 256;
    gnode *nv2 = realloc(g->v, sizeof *nv2 * (size_t)g->cap);
    if (!nv2) return 1;
    g->v = nv2;
  }
  gnode *n = &g->v[g->n++];
  n->name = strdup(nv->name);
  n->op = strdup(nv->op_type);
  n->domain = strdup(nv->domain);
  n->depth = nv->depth;
  n->cluster = g->top ? g->stack[g->top - 1] : -1;
  n->n_in = (int)nv->n_inputs;
  n->n_out = (int)nv->n_outputs;
  n->in = copy_strs(nv->inputs, nv->n_inputs);
  n->out = copy_strs(nv->outputs, nv->n_outputs);
  n->in_type = copy_strs(nv->input_types, nv->n_inputs);
  n->out_type = copy_strs(nv->output_types, nv->n_outputs);
  n->in_const = malloc(nv->n_inputs + 1);
  if (n->in_const) memcpy(n->in_const, nv->input_is_const, nv->n_inputs);
  return 0;
}

/* DOT string literal contents: quotes and backslashes escaped, control characters dropped. */
static void esc(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 32) fputc(*s, f);
  }
}

/* Cluster `outer` is `inner` or encloses it (-1 is the main graph). */
static bool encloses(const graph_rec *g, int outer, int inner) {
  for (int c = inner;; c = g->cluster_parent[c]) {
    if (c == outer) return true;
    if (c < 0) return false;
  }
}

/* Index of the latest node before `before` in the scope of cluster `scope` (or one enclosing it) that writes
 * value `name`, or -1: sibling branches may reuse a name. */
static int producer(const graph_rec *g, int before, int scope, const char *name) {
  for (int i = before - 1; i >= 0; i--)
    for (int k = 0; k < g->v[i].n_out; k++)
      if (*name && !strcmp(g->v[i].out[k], name) && encloses(g, g->v[i].cluster, scope)) return i;
  return -1;
}

static void emit_node(FILE *f, const gnode *n, int id) {
  fprintf(f, "    n%d [label=\"", id);
  if (*n->domain) {
    esc(f, n->domain);
    fputc(':', f);
  }
  esc(f, n->op);
  if (*n->name) {
    fprintf(f, "\\n");
    esc(f, n->name);
  }
  for (int k = 0; k < n->n_in; k++)
    if (n->in_const[k]) {
      fprintf(f, "\\n");
      esc(f, n->in[k]);
      fprintf(f, " ");
      esc(f, n->in_type[k]);
    }
  fprintf(f, "\"];\n");
}

/* "name\ntensor(float)[N,3,224,224]" for a graph input or output, closing the label. */
static void put_io_label(FILE *f, const oxrt_value_info *vi) {
  esc(f, vi->name);
  fprintf(f, "\\n");
  esc(f, vi->type_string);
  if (vi->kind == OXRT_KIND_TENSOR && vi->rank >= 0) {
    fputc('[', f);
    for (int d = 0; d < vi->rank; d++) {
      if (d) fputc(',', f);
      if (vi->dims[d] >= 0) fprintf(f, "%lld", (long long)vi->dims[d]);
      else if (vi->dim_names && vi->dim_names[d]) esc(f, vi->dim_names[d]);
      else fputc('?', f);
    }
    fputc(']', f);
  }
  fprintf(f, "\"];\n");
}

static int write_dot(FILE *f, oxrt_session *s, graph_rec *g, int max_nodes) {
  int drawn = g->n < max_nodes ? g->n : max_nodes;
  fprintf(f, "digraph model {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8eef8\", "
             "fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n");
  size_t nin = oxrt_session_get_input_count(s), nout = oxrt_session_get_output_count(s);
  for (size_t i = 0; i < nin; i++) {
    oxrt_value_info vi = OXRT_INIT(oxrt_value_info);
    if (oxrt_session_get_input_info(s, i, &vi)) continue;
    fprintf(f, "  in%zu [shape=ellipse, fillcolor=\"#d8f0d8\", label=\"", i);
    put_io_label(f, &vi);
  }
  /* nodes, each inside the clusters that enclose it: open and close clusters as the record order does */
  int open[64], n_open = 0;
  for (int i = 0; i < drawn; i++) {
    int chain[64], nc = 0;
    for (int c = g->v[i].cluster; c >= 0 && nc < 64; c = g->cluster_parent[c]) chain[nc++] = c;
    int common = 0; /* clusters already open that enclose this node */
    while (common < n_open && common < nc && open[common] == chain[nc - 1 - common]) common++;
    for (; n_open > common; n_open--) fprintf(f, "%*s}\n", 2 * n_open, "");
    for (; n_open < nc; n_open++) {
      open[n_open] = chain[nc - 1 - n_open];
      fprintf(f, "%*ssubgraph cluster_%d {\n%*slabel=\"", 2 * n_open + 2, "", open[n_open], 2 * n_open + 4, "");
      esc(f, g->cluster_label[open[n_open]]);
      fprintf(f, "\"; style=dashed;\n");
    }
    emit_node(f, &g->v[i], i);
  }
  for (; n_open > 0; n_open--) fprintf(f, "%*s}\n", 2 * n_open, "");
  /* edges: from the producer (or graph input) to each reader, labelled with the value's type */
  for (int i = 0; i < drawn; i++) {
    const gnode *n = &g->v[i];
    for (int k = 0; k < n->n_in; k++) {
      if (n->in_const[k] || !*n->in[k]) continue;
      int p = producer(g, i, n->cluster, n->in[k]);
      char from[32] = "";
      if (p >= 0) snprintf(from, sizeof from, "n%d", p);
      for (size_t j = 0; p < 0 && j < nin; j++) {
        oxrt_value_info vi = OXRT_INIT(oxrt_value_info);
        if (!oxrt_session_get_input_info(s, j, &vi) && !strcmp(vi.name, n->in[k])) snprintf(from, sizeof from, "in%zu", j);
      }
      if (!*from) continue; /* a subgraph's own input, or a value past the node limit */
      fprintf(f, "  %s -> n%d [label=\"", from, i);
      esc(f, n->in_type[k]);
      fprintf(f, "\"%s];\n", p >= 0 && g->v[p].cluster != n->cluster ? ", style=dashed" : "");
    }
  }
  for (size_t i = 0; i < nout; i++) {
    oxrt_value_info vi = OXRT_INIT(oxrt_value_info);
    if (oxrt_session_get_output_info(s, i, &vi)) continue;
    fprintf(f, "  out%zu [shape=ellipse, fillcolor=\"#f8e0d0\", label=\"", i);
    put_io_label(f, &vi);
    int p = producer(g, drawn, -1, vi.name);
    if (p >= 0) fprintf(f, "  n%d -> out%zu;\n", p, i);
  }
  if (drawn < g->n) {
    /* what was left out, by op type, so the note says what the rest of the model is */
    fprintf(f, "  more [shape=note, fillcolor=\"#fff4c0\", label=\"%d more nodes not drawn (--max-nodes %d)", g->n - drawn,
            max_nodes);
    const char *seen[32];
    int counts[32], ns = 0;
    for (int i = drawn; i < g->n; i++) {
      int j = 0;
      while (j < ns && strcmp(seen[j], g->v[i].op)) j++;
      if (j == ns && ns < 32) {
        seen[ns] = g->v[i].op;
        counts[ns++] = 0;
      }
      if (j < ns) counts[j]++;
    }
    for (int j = 0; j < ns; j++) {
      fprintf(f, "%s%d ", j % 6 ? ", " : "\\n", counts[j]);
      esc(f, seen[j]);
    }
    fprintf(f, "\"];\n  n%d -> more [style=dotted];\n", drawn - 1);
  }
  fprintf(f, "}\n");
  return ferror(f) ? 1 : 0;
}

static void free_rec(graph_rec *g) {
  for (int i = 0; i < g->n; i++) {
    gnode *n = &g->v[i];
    for (int k = 0; k < n->n_in; k++) {
      free(n->in[k]);
      free(n->in_type[k]);
    }
    for (int k = 0; k < n->n_out; k++) {
      free(n->out[k]);
      free(n->out_type[k]);
    }
    free(n->in);
    free(n->in_type);
    free(n->out);
    free(n->out_type);
    free(n->in_const);
    free(n->name);
    free(n->op);
    free(n->domain);
  }
  for (int i = 0; i < g->n_clusters; i++) free(g->cluster_label[i]);
  free(g->v);
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* Single-quoted for sh: ' becomes '\''. */
static void shell_quote(char *out, size_t cap, const char *s) {
  size_t n = 0;
  out[n++] = '\'';
  for (; *s && n + 5 < cap; s++) {
    if (*s == '\'') {
      memcpy(out + n, "'\\''", 4);
      n += 4;
    } else out[n++] = *s;
  }
  out[n++] = '\'';
  out[n] = 0;
}

int cmd_graph(int argc, char **argv) {
  const char *model = NULL, *out = NULL;
  int max_nodes = 400;
  for (int i = 0; i < argc; i++) {
    if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--max-nodes") && i + 1 < argc) max_nodes = atoi(argv[++i]);
    else if (argv[i][0] == '-') {
      fprintf(stderr, "error: unknown option '%s' for oxrt graph\n", argv[i]);
      return 2;
    } else if (!model) model = argv[i];
    else {
      fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!model || max_nodes < 1) {
    fprintf(stderr, "usage: oxrt graph MODEL [-o OUT.svg|OUT.png|OUT.pdf|OUT.dot] [--max-nodes N]\n");
    return 2;
  }
  const char *fmt = !out ? NULL : ends_with(out, ".svg") ? "svg" : ends_with(out, ".png") ? "png"
                                  : ends_with(out, ".pdf") ? "pdf" : NULL;
  oxrt_session_options *so;
  oxrt_session *s;
  oxrt_status *st = oxrt_session_options_create(&so);
  if (st) return cli_fail(st);
  oxrt_session_options_set_load_only(so, 1); /* the model as written; no kernels needed */
  st = oxrt_session_create(model, so, &s);
  oxrt_session_options_free(so);
  if (st) return cli_fail(st);
  graph_rec g;
  memset(&g, 0, sizeof g);
  st = oxrt_session_visit_graph(s, on_visit, &g);
  int rc = st ? cli_fail(st) : 0;
  char dot_path[4096];
  if (out) snprintf(dot_path, sizeof dot_path, "%s%s", out, fmt ? ".dot" : "");
  FILE *f = !rc ? (out ? fopen(dot_path, "w") : stdout) : NULL;
  if (!rc && !f) {
    fprintf(stderr, "error: cannot write '%s'\n", dot_path);
    rc = 1;
  }
  if (!rc) rc = write_dot(f, s, &g, max_nodes);
  if (f && f != stdout && fclose(f)) rc = 1;
  if (!rc && g.n > max_nodes)
    fprintf(stderr, "note: %d of %d nodes drawn; the rest is summarised in a note (raise --max-nodes)\n", max_nodes, g.n);
  if (!rc && fmt) {
    if (system("command -v dot >/dev/null 2>&1") != 0) {
      fprintf(stderr, "error: Graphviz's 'dot' is not installed (apt-get install graphviz); the DOT text is in %s\n",
              dot_path);
      rc = 3;
    } else {
      char qin[8300], qout[8300], cmd[17000];
      shell_quote(qin, sizeof qin, dot_path);
      shell_quote(qout, sizeof qout, out);
      snprintf(cmd, sizeof cmd, "dot -T%s %s -o %s", fmt, qin, qout);
      if (system(cmd) != 0) {
        fprintf(stderr, "error: dot failed on %s\n", dot_path);
        rc = 1;
      } else {
        remove(dot_path);
      }
    }
  }
  if (!rc && out) printf("%s: %d nodes%s written to %s\n", model, g.n < max_nodes ? g.n : max_nodes,
                         g.n_clusters ? " (subgraphs as clusters)" : "", out);
  free_rec(&g);
  oxrt_session_free(s);
  return rc;
}
