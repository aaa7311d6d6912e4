/* disk_probe: the floor the disk puts under any acknowledgement that waits for fdatasync.
 *
 *   disk_probe DIR COUNT BATCH SIZE
 *
 * Writes COUNT records of SIZE bytes one after another into a new file in DIR, calling
 * fdatasync after every BATCH records (as a priest appends votes and syncs once per batch),
 * and times each fdatasync. The file is zero-filled and synced first, as a priest's votes.csv
 * and etcd's log are, so that a sync flushes data blocks without the journal commit that a
 * growing file costs. Prints on stdout exactly one line:
 *
 *   RESULT disk=fdatasync size=S batch=B syncs=N p50_ms=P p90_ms=Q p99_ms=R records_s=X
 *
 * The file is removed at the end. */
#include <fcntl.h>
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

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: disk_probe DIR COUNT BATCH SIZE\n");
    return 2;
  }
  long count = atol(argv[2]), batch = atol(argv[3]), size = atol(argv[4]);
  if (count < 1 || batch < 1 || size < 1) {
    fprintf(stderr, "disk_probe: COUNT, BATCH and SIZE must be positive\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/disk_probe.%d", argv[1], (int)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror(path);
    return 1;
  }
  char *rec = malloc((size_t)size);
  memset(rec, 'r', (size_t)size);
  rec[size - 1] = '\n';
  char zeros[65536] = {0};
  for (long at = 0; at < count * size; at += (long)sizeof zeros)
    if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros) {
      perror("zero-fill");
      return 1;
    }
  if (fsync(fd) != 0) {
    perror("fsync");
    return 1;
  }
  long syncs = (count + batch - 1) / batch, s = 0;
  double *lat = malloc((size_t)syncs * sizeof *lat), began = now_ms();
  for (long i = 0; i < count; ++i) {
    if (pwrite(fd, rec, (size_t)size, (off_t)(i * size)) != size) {
      perror("write");
      return 1;
    }
    if ((i + 1) % batch == 0 || i + 1 == count) {
      double t = now_ms();
      if (fdatasync(fd) != 0) {
        perror("fdatasync");
        return 1;
      }
      lat[s++] = now_ms() - t;
    }
  }
  double took = now_ms() - began;
  close(fd);
  unlink(path);
  qsort(lat, (size_t)s, sizeof *lat, by_value);
#define PCT(p) lat[(size_t)((p) * (double)(s - 1) + 0.5)]
  printf("RESULT disk=fdatasync size=%ld batch=%ld syncs=%ld p50_ms=%.3f p90_ms=%.3f "
         "p99_ms=%.3f records_s=%.0f\n",
         size, batch, s, PCT(.5), PCT(.9), PCT(.99), (double)count / (took / 1e3));
  return 0;
}
