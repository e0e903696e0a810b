/*
 * statelock: one process per state_dir (DESIGN §4.1).  `serve` and
 * `sync --once` hold an exclusive lock (flock) on <state_dir>/gitsyncd.lock
 * for as long as they run, and write into it who they are, so that a second
 * process can name the holder.  The kernel drops the lock when the holder
 * exits, however it exits (kill -9 included): no stale lock to clean up.
 */
#ifndef GITSYNCD_STATELOCK_H
#define GITSYNCD_STATELOCK_H

struct statelock;

/*
 * Take the lock of state_dir (made if missing) for what ("serve",
 * "sync --once w"), waiting up to wait_ms (0: not at all) while another
 * process holds it.  On failure *err names the holder (pid, command,
 * since when) and the lock file.
 */
int statelock_acquire(const char *state_dir, const char *what, long long wait_ms,
                      struct statelock **out, char **err);
/* Give the lock up (NULL is fine). */
void statelock_release(struct statelock *l);

#endif
