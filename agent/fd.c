/*
 * weft's own descriptors: the table, the placement above the program's
 * numbers, and the moves a program's dup2 forces. The algorithm and its
 * limits are described in agent/fd.h.
 *
 * Memory orders. Each slot's `num` (its descriptor) is the only field read
 * without the lock (by the hooks, on any thread); `users` implements the
 * hand-off between a weft user and a program thread moving the descriptor
 * (weft_fd_yield), which waits outside the lock:
 *
 *   user:   users++ ; n = num ; ...write(n)... ; users--
 *   mover:  num = new ; while (users) wait ; (the program's dup2 replaces old)
 *
 * Both sides use sequentially consistent operations, so either the user's
 * increment comes first in the single total order (and the mover waits for
 * it to finish with the old number) or the mover's store does (and the user
 * reads the new number). `fast_limit` is stored 0 before a change and its
 * final value before the lock is released, both sequentially consistent, so a
 * close that reads a non-zero limit after a change began cannot exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/fd.h"
#include "agent/guard.h"

struct fd_slot {
	_Atomic int num;   /* the current number + 1; 0 when free or taken by the program */
	_Atomic int users; /* weft_fd_use calls in flight */
	_Atomic int gen;   /* the handle generation; bumped when the slot is freed */
	unsigned flags;
	bool used; /* under the lock */
};

_Atomic int weft_fd_fast_limit = INT_MAX;

static struct fd_slot slots[WEFT_FD_SLOTS];
static _Atomic int change_lock;
static int stderr_handle = -1, output_dir_handle = -1;
/*
 * The process the table describes. A vfork child shares the table's memory
 * but has its own descriptor table: it must never change the table.
 */
static pid_t table_pid;

static bool in_table_process(void)
{
	return !table_pid || getpid() == table_pid;
}

/* A slot's descriptor, -1 when none (stored + 1 so that zeroed memory is empty). */
static int slot_fd(struct fd_slot *s)
{
	return atomic_load(&s->num) - 1;
}

static void slot_set(struct fd_slot *s, int fd)
{
	atomic_store(&s->num, fd < 0 ? 0 : fd + 1);
}

static void change_begin(void)
{
	int expected = 0;

	while (!atomic_compare_exchange_weak(&change_lock, &expected, 1)) {
		expected = 0;
		sched_yield();
	}
	atomic_store(&weft_fd_fast_limit, 0);
}

static void change_end(void)
{
	int low = INT_MAX;

	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		int fd = atomic_load_explicit(&slots[i].num, memory_order_relaxed) - 1;

		if (fd >= 0 && fd < low)
			low = fd;
	}
	atomic_store(&weft_fd_fast_limit, low);
	atomic_store(&change_lock, 0);
}

/*
 * A change is being made on another thread: wait for it (a few system calls).
 * Not on a thread inside weft: it may be the one making the change, with a
 * signal handler calling close on top of it.
 */
static void wait_for_change(void)
{
	if (weft_guard_active())
		return;
	while (atomic_load(&change_lock))
		sched_yield();
}

/* The close() weft itself uses: never the interposed one. */
static int raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/* F_DUPFD_CLOEXEC onto the lowest free number >= min; -1 with errno when none. */
static int dup_from(int fd, int min)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, min);
}

/*
 * A close-on-exec copy of fd at a number out of the program's way (see fd.h),
 * under the soft limit `limit` (NULL: unknown), or -1 with errno. Never
 * closes fd.
 */
static int place_under(int fd, const struct rlimit *limit)
{
	struct rlimit rl, raised;
	int top, r;

	if (!limit)
		return dup_from(fd, 3);
	rl = *limit;
	if (rl.rlim_cur > WEFT_FD_HIGH_CAP) {
		/*
		 * Well below a huge soft limit: the program's numbers change only
		 * if it opens more than WEFT_FD_HIGH_CAP descriptors.
		 */
		r = dup_from(fd, WEFT_FD_HIGH_CAP);
		if (r >= 0)
			return r;
		top = WEFT_FD_HIGH_CAP;
	} else {
		top = (int)rl.rlim_cur;
		if (rl.rlim_max > rl.rlim_cur) {
			/*
			 * Above the soft limit: raise it for this one call, then put
			 * it back. A few numbers are enough room.
			 */
			raised = rl;
			raised.rlim_cur = rl.rlim_cur + 2 * WEFT_FD_SLOTS;
			if (raised.rlim_cur > rl.rlim_max)
				raised.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
				int err;

				r = dup_from(fd, (int)rl.rlim_cur);
				err = errno;
				setrlimit(RLIMIT_NOFILE, &rl);
				errno = err;
				if (r >= 0)
					return r;
			}
		}
	}
	/* The highest free number below the limit: F_DUPFD finds the lowest >= t. */
	for (int t = top - 1; t > STDERR_FILENO; t--) {
		r = dup_from(fd, t);
		if (r >= 0 || (errno != EMFILE && errno != EINVAL))
			return r;
	}
	errno = EMFILE;
	return -1;
}

/* place_under the soft limit as it is now (NULL: the kernel would not say). */
static int place(int fd)
{
	struct rlimit rl;

	return place_under(fd, getrlimit(RLIMIT_NOFILE, &rl) == 0 ? &rl : NULL);
}

static int handle_of(int i)
{
	return atomic_load_explicit(&slots[i].gen, memory_order_relaxed) * WEFT_FD_SLOTS + i;
}

static struct fd_slot *slot_of(int h)
{
	struct fd_slot *s;

	if (h < 0)
		return NULL;
	s = &slots[h % WEFT_FD_SLOTS];
	if (atomic_load_explicit(&s->gen, memory_order_relaxed) != h / WEFT_FD_SLOTS)
		return NULL;
	return s;
}

/* Under the lock: registers fd (moved up when possible); a handle or -errno. */
static int own_locked(int fd, unsigned flags)
{
	struct rlimit rl;
	bool known;
	int high, i;

	for (i = 0; i < WEFT_FD_SLOTS && slots[i].used; i++)
		;
	if (i == WEFT_FD_SLOTS) {
		raw_close(fd);
		return -EMFILE;
	}
	/* Not moved if already where place() would put it (opened with the limit raised). */
	known = getrlimit(RLIMIT_NOFILE, &rl) == 0;
	high = known && (rlim_t)fd >= rl.rlim_cur ? -1 : place_under(fd, known ? &rl : NULL);
	if (high >= 0) {
		raw_close(fd);
		fd = high;
	} else {
		/* No higher number free: owned where it is, still protected. */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	slots[i].used = true;
	slots[i].flags = flags;
	atomic_store(&slots[i].users, 0);
	slot_set(&slots[i], fd);
	return handle_of(i);
}

int weft_fd_own(int fd, unsigned flags)
{
	int h;

	if (fd < 0)
		return -EBADF;
	change_begin();
	h = own_locked(fd, flags);
	change_end();
	return h;
}

/*
 * Every number below the soft limit is in use (a program that exits with all
 * its descriptors open): open above it, with the limit raised for this call.
 */
static int openat_above_limit(int dirfd, const char *path, int flags, unsigned mode)
{
	struct rlimit rl, raised;
	int fd, err;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max <= rl.rlim_cur) {
		errno = EMFILE;
		return -1;
	}
	raised = rl;
	raised.rlim_cur = rl.rlim_cur + 2 * WEFT_FD_SLOTS;
	if (raised.rlim_cur > rl.rlim_max)
		raised.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
		errno = EMFILE;
		return -1;
	}
	fd = openat(dirfd, path, flags, mode);
	err = errno;
	setrlimit(RLIMIT_NOFILE, &rl);
	errno = err;
	return fd;
}

/* Under the lock: openat(2), close-on-exec, above the soft limit when nothing below is free. */
static int open_locked(int dirfd, const char *path, int flags, unsigned mode)
{
	int fd = openat(dirfd, path, flags | O_CLOEXEC, mode);

	if (fd < 0 && errno == EMFILE)
		fd = openat_above_limit(dirfd, path, flags | O_CLOEXEC, mode);
	return fd;
}

int weft_fd_openat(int dirfd, const char *path, int flags, unsigned mode, unsigned own_flags)
{
	int fd, h;

	change_begin();
	fd = open_locked(dirfd, path, flags, mode);
	h = fd < 0 ? -errno : own_locked(fd, own_flags);
	change_end();
	return h;
}

ssize_t weft_fd_read_small(const char *path, char *buf, size_t n)
{
	int fd, err = 0;
	ssize_t r;

	if (n == 0)
		return -EINVAL;
	change_begin();
	fd = open_locked(AT_FDCWD, path, O_RDONLY, 0);
	if (fd < 0) {
		err = -errno;
		change_end();
		return err;
	}
	r = read(fd, buf, n - 1);
	if (r < 0)
		err = -errno;
	raw_close(fd);
	change_end();
	if (err)
		return err;
	buf[r] = '\0';
	return r;
}

int weft_fd_socket(int family, int type, int protocol, unsigned own_flags)
{
	int fd, h;

	change_begin();
	fd = socket(family, type | SOCK_CLOEXEC, protocol);
	h = fd < 0 ? -errno : own_locked(fd, own_flags);
	change_end();
	return h;
}

int weft_fd_eventfd(unsigned initval, unsigned own_flags)
{
	int fd, h;

	change_begin();
	fd = eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK);
	h = fd < 0 ? -errno : own_locked(fd, own_flags);
	change_end();
	return h;
}

int weft_fd_accept(int listener, unsigned own_flags)
{
	int lfd = weft_fd_use(listener), fd, h;

	if (lfd < 0)
		return lfd;
	change_begin();
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	h = fd < 0 ? -errno : own_locked(fd, own_flags);
	change_end();
	weft_fd_unuse(listener);
	return h;
}

/* A copy of fd, owned: placed high directly, never at a low number. */
static int own_copy(int fd, unsigned flags)
{
	int copy, i, h = -EMFILE;

	change_begin();
	for (i = 0; i < WEFT_FD_SLOTS && slots[i].used; i++)
		;
	if (i < WEFT_FD_SLOTS) {
		copy = place(fd);
		if (copy < 0) {
			h = -errno;
		} else {
			slots[i].used = true;
			slots[i].flags = flags;
			atomic_store(&slots[i].users, 0);
			slot_set(&slots[i], copy);
			h = handle_of(i);
		}
	}
	change_end();
	return h;
}

int weft_fd_use(int h)
{
	struct fd_slot *s = slot_of(h);
	int fd;

	if (!s)
		return -EBADF;
	atomic_fetch_add(&s->users, 1);
	fd = slot_fd(s);
	if (fd < 0) {
		atomic_fetch_sub(&s->users, 1);
		return -EBADF;
	}
	return fd;
}

void weft_fd_unuse(int h)
{
	struct fd_slot *s = slot_of(h);

	if (s)
		atomic_fetch_sub(&s->users, 1);
}

int weft_fd_number(int h)
{
	struct fd_slot *s = slot_of(h);
	int fd = s ? slot_fd(s) : -1;

	return fd < 0 ? -EBADF : fd;
}

/* Under the lock: frees slot i, closing its descriptor if it is still weft's. */
static int release_locked(int i, bool close_it)
{
	int fd = slot_fd(&slots[i]), r = 0;

	slot_set(&slots[i], -1);
	slots[i].used = false;
	atomic_fetch_add(&slots[i].gen, 1);
	if (fd >= 0 && close_it && raw_close(fd) != 0)
		r = -errno;
	return r;
}

int weft_fd_close(int h)
{
	int r = -EBADF;

	change_begin();
	if (slot_of(h))
		r = release_locked(h % WEFT_FD_SLOTS, true);
	change_end();
	return r;
}

int weft_fd_forget(int h)
{
	int r = -EBADF;

	change_begin();
	if (slot_of(h))
		r = release_locked(h % WEFT_FD_SLOTS, false);
	change_end();
	return r;
}

bool weft_fd_is_owned(int fd)
{
	if (fd < 0)
		return false;
	wait_for_change();
	for (int i = 0; i < WEFT_FD_SLOTS; i++)
		if (slot_fd(&slots[i]) == fd)
			return true;
	return false;
}

int weft_fd_next_owned(int fd)
{
	int next = INT_MAX;

	wait_for_change();
	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		int n = slot_fd(&slots[i]);

		if (n >= fd && n < next)
			next = n;
	}
	return next;
}

/* Waits until no weft_fd_use of slot s is in flight (a write: bounded). */
static void wait_for_users(struct fd_slot *s)
{
	while (atomic_load(&s->users))
		sched_yield();
}

bool weft_fd_yield(int fd)
{
	struct fd_slot *s = NULL;
	int saved = errno, moved = -1;
	bool pinned = false;

	if (!in_table_process())
		return false; /* a vfork child: weft's descriptors are the parent's */
	weft_guard_enter();
	change_begin();
	for (int i = 0; i < WEFT_FD_SLOTS && !s; i++) {
		if (slot_fd(&slots[i]) != fd)
			continue;
		/*
		 * A pinned descriptor cannot move under its user: the handle goes
		 * stale and the number is the program's. Others get a new number;
		 * the old one stays open until the program's call replaces it, and
		 * is no longer weft's.
		 */
		s = &slots[i];
		pinned = s->flags & WEFT_FD_PINNED;
		moved = pinned ? -1 : place(fd);
		slot_set(s, moved);
	}
	change_end();
	/*
	 * Outside the lock: a user of the old number may need the lock to finish
	 * (opening a file in a directory it holds).
	 */
	if (s)
		wait_for_users(s);
	if (s && moved < 0 && !pinned)
		raw_close(fd); /* no room elsewhere: weft loses this one */
	weft_guard_leave();
	errno = saved;
	return moved >= 0;
}

void weft_fd_stderr_redirected(void)
{
	struct fd_slot *s;
	int saved = errno, old = -1, copy = -1;

	if (stderr_handle < 0 || !in_table_process())
		return;
	weft_guard_enter();
	change_begin();
	s = slot_of(stderr_handle);
	if (s) {
		old = slot_fd(s);
		copy = place(STDERR_FILENO);
		if (copy >= 0)
			slot_set(s, copy);
	}
	change_end();
	if (s && copy >= 0) {
		wait_for_users(s);
		if (old >= 0)
			raw_close(old);
	}
	weft_guard_leave();
	errno = saved;
}

/*
 * fork waits for a change in progress, so that the child's table describes
 * its descriptors. Not when the forking thread is inside weft (it could hold
 * the lock itself).
 */
static bool locked_for_fork;

/*
 * Around fork the table's lock is held, so that the child never inherits a
 * change half made — unless no other thread can be making one: a process
 * that has never created a thread (glibc's __libc_single_threaded). Then the
 * lock's release after the fork, a write that copies a page in the parent at
 * every fork, is spared.
 */
static void atfork_prepare(void)
{
	int expected = 0;

	if (weft_guard_active() || __libc_single_threaded)
		return;
	/*
	 * The lock alone: the fork changes nothing in the table, so the fast
	 * limit stays as it is (storing it again after the fork would copy its
	 * page in the parent, at every fork).
	 */
	while (!atomic_compare_exchange_weak(&change_lock, &expected, 1)) {
		expected = 0;
		sched_yield();
	}
	locked_for_fork = true;
}

static void atfork_parent(void)
{
	if (!locked_for_fork)
		return;
	locked_for_fork = false;
	atomic_store(&change_lock, 0);
}

/* Not inherited: the parent's files and sockets. The child opens its own. */
void weft_fd_after_fork_child(void)
{
	locked_for_fork = false;
	table_pid = getpid();
	atomic_store(&change_lock, 1);
	atomic_store(&weft_fd_fast_limit, 0);
	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		atomic_store(&slots[i].users, 0);
		if (slots[i].used && !(slots[i].flags & WEFT_FD_INHERIT))
			release_locked(i, true);
	}
	change_end();
}

/* The directory part of an output pattern, if it names one without `%`. */
static void open_output_dir(const char *pattern)
{
	char dir[4096];
	const char *slash = pattern ? strrchr(pattern, '/') : NULL;
	size_t n;

	if (!pattern || !pattern[0])
		return;
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		n = (size_t)(slash - pattern);
		if (n == 0)
			n = 1; /* "/file": the root */
		if (n >= sizeof(dir) || memchr(pattern, '%', n))
			return;
		memcpy(dir, pattern, n);
		dir[n] = '\0';
	}
	output_dir_handle = weft_fd_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY, 0, WEFT_FD_INHERIT);
}

void weft_fd_init(const char *output_pattern)
{
	static bool done;

	if (done)
		return;
	done = true;
	table_pid = getpid();
	stderr_handle = own_copy(STDERR_FILENO, WEFT_FD_INHERIT);
	if (stderr_handle == WEFT_FD_NOT_YET)
		stderr_handle = -EBADF;
	open_output_dir(output_pattern);
	pthread_atfork(atfork_prepare, atfork_parent, weft_fd_after_fork_child);
}

int weft_fd_stderr(void)
{
	return stderr_handle;
}

int weft_fd_output_dir(void)
{
	return output_dir_handle;
}

int weft_fd_count(void)
{
	int n = 0;

	for (int i = 0; i < WEFT_FD_SLOTS; i++)
		n += slot_fd(&slots[i]) >= 0;
	return n;
}
