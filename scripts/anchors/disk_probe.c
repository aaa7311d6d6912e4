/* disk_probe: the floor the disk puts under any acknowledgement that waits for fdatasync.
 *
 *   disk_probe DIR COUNT BATCH SIZE [WRITERS]
 *
 * Writes COUNT records of SIZE bytes one after another into a new file in DIR, calling
 * fdatasync after every BATCH records (as a priest appends votes and syncs once per batch),
 * and times each fdatasync. The file is zero-filled and synced first, as a priest's votes.csv
 * and etcd's log are, so that a sync flushes data blocks without the journal commit that a
 * growing file costs. With WRITERS (default 1) above one, as many threads do the same, each
 * into its own file, in lock-step: every round each writes its BATCH, then all begin their
 * fdatasync together, and the round's time is until the last of them has synced. That is the
 * disk's part of a ballot whose quorum is WRITERS priests on this one disk (three of five:
 * the president's vote and two followers'). Prints on stdout exactly one line:
 *
 *   RESULT disk=fdatasync size=S batch=B syncs=N p50_ms=P p90_ms=Q p99_ms=R records_s=X
 *
 * with " writers=W" after batch when W is above one (records_s: one writer's records per second
 * of flushing).
 * The files are removed at the end. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static long count, batch, size, syncs;
static const char *dir;
static pthread_barrier_t round_start, round_end;
static double *lat; /* one per round: from its start until every writer synced */

static void fail(const char *what) {
  perror(what);
  exit(1);
}

/* One writer: its own zero-filled file, BATCH records and a fdatasync per round. */
static void *writer(void *arg) {
  long me = (long)arg;
  char path[4096];
  snprintf(path, sizeof path, "%s/disk_probe.%d.%ld", dir, (int)getpid(), me);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) fail(path);
  char *rec = malloc((size_t)size);
  memset(rec, 'r', (size_t)size);
  rec[size - 1] = '\n';
  static const char zeros[65536];
  for (long at = 0; at < count * size; at += (long)sizeof zeros)
    if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros) fail("zero-fill");
  if (fsync(fd) != 0) fail("fsync");
  for (long s = 0, i = 0; s < syncs; ++s) {
    /* The round's records are written first; only the flushes are timed, all begun at once. */
    for (long end = i + batch < count ? i + batch : count; i < end; ++i)
      if (pwrite(fd, rec, (size_t)size, (off_t)(i * size)) != size) fail("write");
    pthread_barrier_wait(&round_start);
    double t = now_ms();
    if (fdatasync(fd) != 0) fail("fdatasync");
    if (me == 0) lat[s] = t;
    pthread_barrier_wait(&round_end);
    if (me == 0) lat[s] = now_ms() - lat[s];
  }
  close(fd);
  unlink(path);
  free(rec);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: disk_probe DIR COUNT BATCH SIZE [WRITERS]\n");
    return 2;
  }
  dir = argv[1];
  count = atol(argv[2]), batch = atol(argv[3]), size = atol(argv[4]);
  long writers = argc == 6 ? atol(argv[5]) : 1;
  if (count < 1 || batch < 1 || size < 1 || writers < 1 || writers > 64) {
    fprintf(stderr, "disk_probe: COUNT, BATCH and SIZE must be positive, WRITERS 1 to 64\n");
    return 2;
  }
  syncs = (count + batch - 1) / batch;
  lat = malloc((size_t)syncs * sizeof *lat);
  if (pthread_barrier_init(&round_start, NULL, (unsigned)writers) != 0 ||
      pthread_barrier_init(&round_end, NULL, (unsigned)writers) != 0)
    fail("pthread_barrier_init");
  pthread_t threads[64];
  /* The zero-fill is outside the timing: it ends before the first round's barrier opens. */
  for (long w = 0; w < writers; ++w)
    if (pthread_create(&threads[w], NULL, writer, (void *)w) != 0) fail("pthread_create");
  for (long w = 0; w < writers; ++w) pthread_join(threads[w], NULL);
  double synced = 0; /* the rounds' time in all: records_s is records per second of flushing */
  for (long s = 0; s < syncs; ++s) synced += lat[s];
  qsort(lat, (size_t)syncs, sizeof *lat, by_value);
  char who[32] = "";
  if (writers > 1) snprintf(who, sizeof who, " writers=%ld", writers);
#define PCT(p) lat[(size_t)((p) * (double)(syncs - 1) + 0.5)]
  printf("RESULT disk=fdatasync size=%ld batch=%ld%s syncs=%ld p50_ms=%.3f p90_ms=%.3f "
         "p99_ms=%.3f records_s=%.0f\n",
         size, batch, who, syncs, PCT(.5), PCT(.9), PCT(.99), (double)count / (synced / 1e3));
  return 0;
}
