/* statelock: one process per state_dir, held with flock(2). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gitsyncd/statelock.h"
#include "gitsyncd/util.h"

#define STATELOCK_FILE "gitsyncd.lock"
#define STATELOCK_POLL_MS 100

struct statelock {
    int fd;
};

/* Who holds the lock, as the holder wrote it into the file ("" if unknown). */
static char *
statelock_holder(int fd)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    size_t i;

    if (n <= 0)
        return xstrdup("another process");
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    /* The file is ours, but print only what a terminal shows as is. */
    for (i = 0; buf[i] != '\0'; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    }
    return xstrdup(buf[0] != '\0' ? buf : "another process");
}

int
statelock_acquire(const char *state_dir, const char *what, long long wait_ms,
                  struct statelock **out, char **err)
{
    struct statelock *l;
    char *path, *holder, *text, when[32];
    double deadline = now_mono() + (double)(wait_ms > 0 ? wait_ms : 0) / 1000;
    struct timespec ts = { 0, STATELOCK_POLL_MS * 1000000L };
    time_t now;
    struct tm tm;
    int fd;

    *out = NULL;
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return set_error(err, "state_dir %s: %s", state_dir, strerror(errno));
    path = xasprintf("%s/" STATELOCK_FILE, state_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_error(err, "cannot open the lock file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            set_error(err, "cannot lock %s: %s", path, strerror(errno));
            goto fail;
        }
        if (now_mono() >= deadline) {
            holder = statelock_holder(fd);
            set_error(err, "state_dir %s is in use by %s (lock file %s)%s", state_dir, holder, path,
                      wait_ms > 0 ? "; gave up waiting" : "");
            free(holder);
            goto fail;
        }
        nanosleep(&ts, NULL);
    }
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    text = xasprintf("pid %ld (gitsyncd %s, since %s)\n", (long)getpid(), what, when);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
        /* Held all the same: only the holder's name is missing. */
        fprintf(stderr, "gitsyncd: cannot write %s: %s\n", path, strerror(errno));
    }
    free(text);
    free(path);
    l = xcalloc(1, sizeof *l);
    l->fd = fd;
    *out = l;
    return 0;
fail:
    close(fd);
    free(path);
    return -1;
}

void
statelock_release(struct statelock *l)
{
    if (l == NULL)
        return;
    /* Emptied first, so that nobody is named after the holder left. */
    if (ftruncate(l->fd, 0) != 0) {
        /* Nothing to do: the lock goes with the descriptor anyway. */
    }
    close(l->fd);
    free(l);
}
