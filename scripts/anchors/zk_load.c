/* zk_load: the closed-loop write load that scripts/bench.sh puts on ZooKeeper, shaped like
 * paxos-bench.
 *
 *   zk_load HOSTS CLIENTS SESSIONS VAL DURATION_S WARMUP_S LABEL
 *
 * CLIENTS closed-loop clients share SESSIONS sessions (session i connects to the i-th of the
 * comma-separated HOSTS, mod their count); each keeps one asynchronous setData (zoo_aset,
 * any version) of VAL bytes outstanding on its own znode /parliament-bench/cN, the nearest
 * thing to a put. Latencies after the warm-up are recorded for DURATION_S seconds. Prints on
 * stdout exactly one line, as paxos-bench does:
 *
 *   RESULT label=L clients=C conns=K val=V n=N done=D errors=E ops_s=X avg_ms=A p50_ms=P
 *          p90_ms=Q p99_ms=R p999_ms=S max_ms=M                               (one line)
 *
 * Uses Debian's multi-threaded C client (libzookeeper-mt-dev): each session's completions
 * run on that session's own completion thread, which alone touches its clients' figures. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADED /* the synchronous calls of the multi-threaded library */
#include <zookeeper/zookeeper.h>

struct client {
  zhandle_t *zh;
  char path[64];
  double sent;      /* seconds, CLOCK_MONOTONIC */
  double *lat;      /* ms of measured requests */
  size_t n, cap;
  long done, errors;
};

static const char *value;
static int value_len;
static double measure_from, end_at;
static atomic_int outstanding;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void issue(struct client *c);

static void on_set(int rc, const struct Stat *stat, const void *data) {
  struct client *c = (struct client *)data;
  double t = now_s();
  (void)stat;
  c->done++;
  if (rc != ZOK) {
    c->errors++;
  } else if (c->sent >= measure_from) {
    if (c->n == c->cap) {
      c->cap = c->cap ? 2 * c->cap : 4096;
      c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
      if (!c->lat) abort();
    }
    c->lat[c->n++] = (t - c->sent) * 1e3;
  }
  if (t < end_at) issue(c);
  else atomic_fetch_sub(&outstanding, 1);
}

static void issue(struct client *c) {
  c->sent = now_s();
  int rc = zoo_aset(c->zh, c->path, value, value_len, -1, on_set, c);
  if (rc != ZOK) { /* not sent: counted, and this client stops */
    c->errors++;
    atomic_fetch_sub(&outstanding, 1);
  }
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
  (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *s, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return s[i < n ? i : n - 1];
}

/* Session i, connected within 10 s, or exits. */
static zhandle_t *open_session(const char *hosts, int i) {
  char list[4096], *save = NULL, *tok;
  const char *names[64];
  int count = 0;
  snprintf(list, sizeof list, "%s", hosts);
  for (tok = strtok_r(list, ",", &save); tok && count < 64; tok = strtok_r(NULL, ",", &save))
    names[count++] = tok;
  zhandle_t *zh = zookeeper_init(names[i % count], watcher, 10000, NULL, NULL, 0);
  for (int w = 0; zh && zoo_state(zh) != ZOO_CONNECTED_STATE && w < 1000; ++w) usleep(10000);
  if (!zh || zoo_state(zh) != ZOO_CONNECTED_STATE) {
    fprintf(stderr, "zk_load: session %d to %s did not connect in 10 s\n", i, names[i % count]);
    exit(1);
  }
  return zh;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: zk_load HOSTS CLIENTS SESSIONS VAL DURATION_S WARMUP_S LABEL\n");
    return 2;
  }
  int clients = atoi(argv[2]), sessions = atoi(argv[3]);
  value_len = atoi(argv[4]);
  double duration = atof(argv[5]), warmup = atof(argv[6]);
  if (clients < 1 || sessions < 1 || value_len < 1 || duration <= 0 || warmup < 0) {
    fprintf(stderr, "zk_load: CLIENTS, SESSIONS, VAL and DURATION_S must be positive\n");
    return 2;
  }
  if (sessions > clients) sessions = clients;
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  char *v = malloc((size_t)value_len);
  memset(v, 'v', (size_t)value_len);
  value = v;

  zhandle_t **zh = calloc((size_t)sessions, sizeof *zh);
  for (int i = 0; i < sessions; ++i) zh[i] = open_session(argv[1], i);
  int rc = zoo_create(zh[0], "/parliament-bench", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
  if (rc != ZOK && rc != ZNODEEXISTS) {
    fprintf(stderr, "zk_load: create /parliament-bench: %s\n", zerror(rc));
    return 1;
  }
  struct client *cs = calloc((size_t)clients, sizeof *cs);
  for (int i = 0; i < clients; ++i) {
    cs[i].zh = zh[i % sessions];
    snprintf(cs[i].path, sizeof cs[i].path, "/parliament-bench/c%d", i);
    rc = zoo_create(zh[0], cs[i].path, value, value_len, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) {
      fprintf(stderr, "zk_load: create %s: %s\n", cs[i].path, zerror(rc));
      return 1;
    }
  }
  double start = now_s();
  measure_from = start + warmup;
  end_at = measure_from + duration;
  atomic_store(&outstanding, clients);
  for (int i = 0; i < clients; ++i) issue(&cs[i]);
  /* Every client stops once a reply comes after the end; a reply lost for good is given up
   * on 15 s after it (the sessions' timeout is 10 s). */
  while (atomic_load(&outstanding) > 0 && now_s() < end_at + 15) usleep(10000);
  int stuck = atomic_load(&outstanding);
  if (stuck > 0) fprintf(stderr, "zk_load: %d requests never answered\n", stuck);

  size_t n = 0;
  long done = 0, errors = stuck;
  for (int i = 0; i < clients; ++i) n += cs[i].n, done += cs[i].done, errors += cs[i].errors;
  double *all = malloc((n ? n : 1) * sizeof *all), sum = 0;
  size_t at = 0;
  for (int i = 0; i < clients; ++i) {
    memcpy(all + at, cs[i].lat, cs[i].n * sizeof *all);
    at += cs[i].n;
  }
  qsort(all, n, sizeof *all, by_value);
  for (size_t i = 0; i < n; ++i) sum += all[i];
  printf("RESULT label=%s clients=%d conns=%d val=%d n=%zu done=%ld errors=%ld ops_s=%.0f "
         "avg_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
         argv[7], clients, sessions, value_len, n, done, errors, (double)n / duration,
         n ? sum / (double)n : 0, pct(all, n, .5), pct(all, n, .9), pct(all, n, .99),
         pct(all, n, .999), n ? all[n - 1] : 0);
  fflush(stdout);
  if (stuck == 0)
    for (int i = 0; i < sessions; ++i) zookeeper_close(zh[i]);
  return n ? 0 : 1;
}
