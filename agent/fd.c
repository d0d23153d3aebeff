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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/consumer.h"
#include "agent/fd.h"
#include "agent/format.h"
#include "agent/guard.h"
#include "agent/hot.h"
#include "agent/sighold.h"

struct fd_slot {
	_Atomic int num;   /* the current number + 1; 0 when free or taken by the program */
	_Atomic int users; /* weft_fd_use calls in flight */
	_Atomic int gen;   /* the handle generation; bumped when the slot is freed */
	unsigned flags;
	bool used; /* under the lock */
	/*
	 * The exporter's own table (see "A table of its own" in fd.h), read and
	 * written by that thread only (and by a forked child, which has none):
	 * the number there + 1, 0 when none; a borrowed copy of `num` + 1 and how
	 * many weft_fd_use calls share it.
	 */
	int pnum, lent, lent_depth;
};

_Atomic int weft_fd_fast_limit WEFT_HOT_DATA = INT_MAX;

static struct fd_slot slots[WEFT_FD_SLOTS];
static _Atomic int change_lock;
static _Atomic int stderr_handle = WEFT_FD_NOT_YET, output_dir_handle = -1;
/* The output directory weft_fd_output_dir_open opens ("" for none). */
static char output_dir_path[4096];

/*
 * A slot flag of weft's own: the slot's number in the program's table is the
 * program's descriptor 2 itself, used by weft but not owned (see
 * weft_fd_stderr in fd.h). Never closed, moved or hidden from the program.
 */
enum { FD_ITSELF = 1u << 8 };

/* A slot number the hooks protect: owned by weft (not the program's stderr itself). */
static int owned_fd(struct fd_slot *s)
{
	int fd = atomic_load(&s->num) - 1;

	return fd >= 0 && !(s->flags & FD_ITSELF) ? fd : -1;
}
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

/*
 * The lock; and, on a thread that shares the program's table, the fast limit
 * 0 (an open there takes the lowest free number for an instant). On the
 * exporter's own table, nothing weft opens is ever the program's.
 */
static void change_begin(void)
{
	int expected = 0;

	while (!atomic_compare_exchange_weak(&change_lock, &expected, 1)) {
		expected = 0;
		sched_yield();
	}
	if (!weft_tls.own_table)
		atomic_store(&weft_fd_fast_limit, 0);
}

static void change_end(void)
{
	int low = INT_MAX;

	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		int fd = owned_fd(&slots[i]);

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
 * A close-on-exec copy of fd at a number the program never gets before it
 * has as many descriptors as its soft limit `rl` allows (see fd.h): at or
 * above the limit, or above WEFT_FD_HIGH_CAP. -1 with errno when there is
 * no such number (the hard limit is the soft one). Never closes fd.
 */
static int place_high(int fd, const struct rlimit *limit)
{
	struct rlimit rl = *limit, raised;
	int r;

	if (rl.rlim_cur > WEFT_FD_HIGH_CAP) {
		/*
		 * Well below a huge soft limit: the program's numbers change only
		 * if it opens more than WEFT_FD_HIGH_CAP descriptors.
		 */
		return dup_from(fd, WEFT_FD_HIGH_CAP);
	}
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
			return r;
		}
	}
	errno = EMFILE;
	return -1;
}

/*
 * A close-on-exec copy of fd at a number out of the program's way (see fd.h),
 * under the soft limit `limit` (NULL: unknown): place_high, else the highest
 * free number below the limit. -1 with errno. Never closes fd.
 */
static int place_under(int fd, const struct rlimit *limit)
{
	int top, r;

	if (!limit)
		return dup_from(fd, 3);
	r = place_high(fd, limit);
	if (r >= 0)
		return r;
	top = limit->rlim_cur > WEFT_FD_HIGH_CAP ? WEFT_FD_HIGH_CAP : (int)limit->rlim_cur;
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
	if (weft_tls.own_table) {
		/* No program's number to keep clear of: where the kernel put it. */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		slots[i].used = true;
		slots[i].flags = flags;
		slots[i].pnum = fd + 1;
		return handle_of(i);
	}
	/* Not moved if already where place() would put it (opened with the limit raised). */
	known = getrlimit(RLIMIT_NOFILE, &rl) == 0;
	if (known && (rlim_t)fd >= rl.rlim_cur) {
		high = -1;
	} else if (flags & WEFT_FD_HIGH_ONLY) {
		high = known ? place_high(fd, &rl) : -1;
		if (high < 0) {
			raw_close(fd);
			return -EMFILE;
		}
	} else {
		high = place_under(fd, known ? &rl : NULL);
	}
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

/* Reads path whole in the program's table, under the change lock (see weft_fd_read_proc). */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	int fd, err = 0;
	ssize_t r;

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

/*
 * The helper of weft_fd_read_proc: a task made with clone(CLONE_VM |
 * CLONE_VFORK), running on its own stack in weft's memory while its parent
 * waits, with a copy of the parent's descriptor table. Its first system call
 * closes every descriptor of that copy (close_range); then it opens, reads
 * and closes each file. (CLONE_FILES and CLOSE_RANGE_UNSHARE would spare the
 * copy, but valgrind accepts no CLONE_VM clone but vfork's flags: it stops
 * the program.) It touches nothing but the batch and its stack: its system
 * calls are made here, in assembly, so no errno, no lazily bound PLT entry
 * and no sanitizer bookkeeping of the parent's thread is used. x86-64 (not
 * x32) and aarch64; elsewhere weft_fd_read_proc reads in the program's table.
 */
#if (defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__)
#define PROC_HELPER 1
#endif

struct proc_batch {
	char prefix[32]; /* "/proc/<pid>/" */
	struct weft_proc_read *r;
	size_t n;
	volatile int hidden; /* the process's threads are not visible from another */
	volatile int done;   /* set last by the helper: it ran, in a table of its own */
};

/* What weft_fd_map maps, in the helper or in the program's table. */
#define MAP_OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
struct map_req {
	const char *path;
	void *map;
	long size;         /* the file's size, or -errno */
	volatile int done; /* set last by the helper */
};

/*
 * The helper's state in this process: idle, running (one at a time), or off
 * for good — it could not run here, and what stopped it is inherited by a
 * forked child too (a seccomp filter, valgrind, an old kernel).
 */
enum { HELPER_IDLE, HELPER_BUSY, HELPER_OFF };
static _Atomic int proc_helper_state;
/*
 * For good too: this process's /proc directory cannot be read by another
 * process (a /proc of another pid namespace, none after a chroot, hidepid=,
 * a program no longer dumpable). The helper still maps files.
 */
static _Atomic bool proc_hidden;

#ifdef PROC_HELPER
#define NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))

/* A system call of up to six arguments: its result, or -errno. */
static inline __attribute__((always_inline)) long raw_syscall6(long n, long a, long b, long c,
							       long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#else
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#endif
}

static inline __attribute__((always_inline)) long raw_syscall(long n, long a, long b, long c,
							      long d)
{
	return raw_syscall6(n, a, b, c, d, 0, 0);
}

/* Copies prefix then name (at most name_max bytes) into path; its end. */
static inline __attribute__((always_inline)) char *path_join(char *path, const char *prefix,
							     const char *name, size_t name_max)
{
	while (*prefix)
		*path++ = *prefix++;
	for (size_t j = 0; j < name_max && name[j]; j++)
		*path++ = name[j];
	*path = '\0';
	return path;
}

NO_SANITIZE static int proc_helper(void *arg)
{
	struct proc_batch *b = arg;
	char path[sizeof(b->prefix) + sizeof(b->r->path)];
	long fd, got;

	/* Its table emptied; where the kernel cannot (before 5.9), nothing is read here. */
	if (raw_syscall(SYS_close_range, 0, (long)~0u, 0, 0) != 0)
		return 0;
	/*
	 * Another process may not see this one's threads (hidepid=, a program
	 * that is not dumpable after setuid): then nothing is read here either.
	 */
	path_join(path, b->prefix, "task", 4);
	fd = raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		b->hidden = 1;
		b->done = 1;
		return 0;
	}
	raw_syscall(SYS_close, fd, 0, 0, 0);
	for (size_t i = 0; i < b->n; i++) {
		struct weft_proc_read *r = &b->r[i];

		path_join(path, b->prefix, r->path, sizeof(r->path) - 1);
		fd = raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0) {
			r->got = fd;
			r->buf[0] = '\0';
			continue;
		}
		got = raw_syscall(SYS_read, fd, (long)r->buf, sizeof(r->buf) - 1, 0);
		r->got = got;
		r->buf[got < 0 ? 0 : got] = '\0';
		raw_syscall(SYS_close, fd, 0, 0, 0);
	}
	b->done = 1;
	return 0;
}

NO_SANITIZE static int map_helper(void *arg)
{
	struct map_req *m = arg;
	long fd, size, p = -EINVAL;

	if (raw_syscall(SYS_close_range, 0, (long)~0u, 0, 0) != 0)
		return 0;
	fd = raw_syscall(SYS_openat, AT_FDCWD, (long)m->path, MAP_OPEN_FLAGS, 0);
	if (fd < 0) {
		m->size = fd;
		m->done = 1;
		return 0;
	}
	size = raw_syscall(SYS_lseek, fd, 0, SEEK_END, 0);
	if (size > 0)
		p = raw_syscall6(SYS_mmap, 0, size, PROT_READ, MAP_PRIVATE, fd, 0);
	raw_syscall(SYS_close, fd, 0, 0, 0);
	if (size > 0 && (unsigned long)p < -4096ul)
		m->map = (void *)p;
	m->size = size > 0 && !m->map ? p : size;
	m->done = 1;
	return 0;
}

enum { PROC_HELPER_STACK = 16384 };
_Static_assert(PROC_HELPER_STACK % 16 == 0, "the helper's stack top must be 16-byte aligned");

/*
 * clone(CLONE_VM | CLONE_VFORK), exit signal 0, the child on stack_top
 * running fn(arg) and then exiting: the child's pid, or -errno.
 * Made here rather than with glibc's clone(): sanitizer runtimes intercept
 * that and take any clone for a fork, marking in memory the child shares with
 * us that the process forked.
 */
static long clone_vfork(int (*fn)(void *), void *stack_top, void *arg)
{
	const long flags = CLONE_VM | CLONE_VFORK;
#if defined(__x86_64__)
	register long r12 __asm__("r12") = (long)fn;
	register long r13 __asm__("r13") = (long)arg;
	register long r10 __asm__("r10") = 0;
	register long r8 __asm__("r8") = 0;
	long ret;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov %[exit], %%eax\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "a"((long)SYS_clone), "D"(flags), "S"(stack_top), "d"(0L), "r"(r10),
			   "r"(r8), "r"(r12), "r"(r13), [exit] "i"(SYS_exit)
			 : "rcx", "r11", "memory", "cc");
	return ret;
#else
	register long x8 __asm__("x8") = SYS_clone;
	register long x0 __asm__("x0") = flags;
	register long x1 __asm__("x1") = (long)stack_top;
	register long x2 __asm__("x2") = 0;
	register long x3 __asm__("x3") = 0;
	register long x4 __asm__("x4") = 0;
	register long x19 __asm__("x19") = (long)fn;
	register long x20 __asm__("x20") = (long)arg;

	__asm__ volatile("svc #0\n\t"
			 "cbnz x0, 1f\n\t"
			 "mov x29, #0\n\t"
			 "mov x30, #0\n\t"
			 "mov x0, x20\n\t"
			 "blr x19\n\t"
			 "mov x8, %[exit]\n\t"
			 "svc #0\n\t"
			 "brk #0\n"
			 "1:"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x19),
			   "r"(x20), [exit] "i"(SYS_exit)
			 : "memory", "cc");
	return x0;
#endif
}

/* Mapped at first use (no page of the program's start), a guard page below. */
static char *proc_helper_stack;

/*
 * "/proc/<pid>/" into prefix when /proc is this process's (its "self" names
 * our pid: the helper, another process, cannot use "self"); false otherwise.
 */
static bool proc_prefix(char *prefix, size_t n)
{
	char self[24];
	ssize_t len = readlink("/proc/self", self, sizeof(self) - 1);
	int pid = (int)getpid();

	if (len <= 0)
		return false;
	self[len] = '\0';
	if (atoi(self) != pid)
		return false;
	return weft_format(prefix, n, "/proc/%d/", pid) < (int)n;
}

/*
 * Whether the helper may be started: never under a seccomp filter, which
 * might kill the process for a clone it does not expect (the exporter
 * blocks every signal, so even a trap would).
 */
static bool helper_allowed(void)
{
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0;
}

/* A stack for the helper with a guard page below it, or NULL. */
static char *helper_stack(void)
{
	char *m = mmap(NULL, 4096 + PROC_HELPER_STACK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	mprotect(m, 4096, PROT_NONE);
	return m + 4096;
}

/*
 * Runs fn(arg) in the helper, which sets *done last; false when it did not
 * run (busy, or off: then for good).
 */
static bool helper_run(int (*fn)(void *), void *arg, volatile int *done)
{
	sigset_t all, old;
	int expected = HELPER_IDLE, err = errno;
	long pid;
	bool ok;

	if (!atomic_compare_exchange_strong(&proc_helper_state, &expected, HELPER_BUSY))
		return false; /* off, or one running already (a signal handler's exit) */
	/* Asked every time: a filter may be installed at any moment. */
	if (!helper_allowed() || (!proc_helper_stack && !(proc_helper_stack = helper_stack()))) {
		atomic_store(&proc_helper_state, HELPER_OFF);
		errno = err;
		return false;
	}
	*done = 0;
	/* No handler of the program's may run in the helper: it shares our memory. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Exit signal 0: no SIGCHLD, and no wait(2) of the program's reaps it but __WALL's. */
	pid = clone_vfork(fn, proc_helper_stack + PROC_HELPER_STACK, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0)
		while (syscall(SYS_wait4, pid, NULL, __WCLONE, NULL) < 0 && errno == EINTR)
			;
	/*
	 * Not done: it could not make a table of its own or see the threads, or
	 * it ran in a copy of our memory (valgrind runs a CLONE_VM clone as a
	 * fork, and each such run costs the program ~90 ms of stopped threads).
	 */
	ok = pid > 0 && *done;
	atomic_store(&proc_helper_state, ok || pid == -EAGAIN ? HELPER_IDLE : HELPER_OFF);
	errno = err;
	return ok;
}

/* The batch read by the helper; false when it was not. */
static bool read_in_helper(struct proc_batch *b)
{
	if (atomic_load(&proc_hidden))
		return false;
	if (!proc_prefix(b->prefix, sizeof(b->prefix))) {
		atomic_store(&proc_hidden, true);
		return false;
	}
	b->hidden = 0;
	if (!helper_run(proc_helper, b, &b->done))
		return false;
	if (b->hidden)
		atomic_store(&proc_hidden, true);
	return !b->hidden;
}

/* The file mapped by the helper; false when it did not run. */
static bool map_in_helper(struct map_req *m)
{
	return helper_run(map_helper, m, &m->done);
}
#else
static bool read_in_helper(struct proc_batch *b)
{
	(void)b;
	return false;
}

static bool map_in_helper(struct map_req *m)
{
	(void)m;
	return false;
}
#endif /* PROC_HELPER */

bool weft_fd_read_proc(struct weft_proc_read *r, size_t n)
{
	struct proc_batch b = { .r = r, .n = n };
	char path[sizeof(r->path) + 16];

	/*
	 * A process that has never had a second thread (glibc's flag) has no
	 * thread to open a file meanwhile: its table serves (the exit export of a
	 * single-threaded program, on its own thread).
	 */
	if (n == 0 || (!__libc_single_threaded && !weft_tls.own_table && read_in_helper(&b)))
		return true;
	for (size_t i = 0; i < n; i++) {
		weft_format(path, sizeof(path), "/proc/self/%.*s", (int)sizeof(r[i].path) - 1,
			    r[i].path);
		r[i].got = read_small(path, r[i].buf, sizeof(r[i].buf));
		if (r[i].got < 0)
			r[i].buf[0] = '\0';
	}
	return __libc_single_threaded || weft_tls.own_table;
}

/*
 * Maps m->path in the program's table, under the change lock (see
 * weft_fd_map), as the helper does: the size from lseek, so that what is
 * not a file fails alike (a FIFO ESPIPE, an empty file or a device EINVAL).
 */
static void map_in_table(struct map_req *m)
{
	off_t size;
	int fd;

	change_begin();
	fd = open_locked(AT_FDCWD, m->path, MAP_OPEN_FLAGS, 0);
	if (fd < 0) {
		m->size = -errno;
	} else if ((size = lseek(fd, 0, SEEK_END)) < 0) {
		m->size = -errno;
	} else if (size == 0) {
		m->size = 0;
	} else {
		m->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
		m->size = m->map == MAP_FAILED ? -errno : (long)size;
		if (m->map == MAP_FAILED)
			m->map = NULL;
	}
	if (fd >= 0)
		raw_close(fd);
	change_end();
}

void *weft_fd_map(const char *path, size_t *size)
{
	struct map_req m = { .path = path, .map = NULL, .size = -EINVAL };
	int saved = errno;

	if (__libc_single_threaded || weft_tls.own_table || !map_in_helper(&m))
		map_in_table(&m);
	if (!m.map) {
		errno = m.size < 0 ? (int)-m.size : EINVAL;
		return NULL;
	}
	*size = (size_t)m.size;
	errno = saved;
	return m.map;
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

/*
 * Under the lock: a slot for the program's descriptor 2 itself (FD_ITSELF),
 * inherited by a forked child; its handle, or -EMFILE when the table is full.
 */
static int itself_locked(void)
{
	int i;

	for (i = 0; i < WEFT_FD_SLOTS && slots[i].used; i++)
		;
	if (i == WEFT_FD_SLOTS)
		return -EMFILE;
	slots[i].used = true;
	slots[i].flags = WEFT_FD_INHERIT | FD_ITSELF;
	atomic_store(&slots[i].users, 0);
	slot_set(&slots[i], STDERR_FILENO);
	return handle_of(i);
}

/* ------------------------------------------------------------ a table of its own */

static int release_locked(int i, bool close_it);

/* This process, in the exporter's own table: where program descriptors are borrowed from. */
static int own_pidfd = -1;
/*
 * The own table's copies are still used: from its making until its thread
 * steps aside (then a program thread's release frees a slot whose program
 * number is gone, whatever the copy).
 */
static _Atomic bool own_table_live;
/* Bumped at each weft_fd_stderr_redirected; the own table's copy is of own_stderr_gen's. */
static _Atomic unsigned stderr_gen;
static unsigned own_stderr_gen;
/* The program runs under valgrind: its preload is in LD_PRELOAD (read at weft_fd_init). */
static bool under_valgrind;

/* The thread own_pidfd names has gone (ESRCH): weft_fd_borrow_from another. */
static bool borrow_lost;

/* A copy, in the calling thread's own table, of the program's descriptor fd; -errno. */
static int borrow(int fd)
{
	int r;

	if (own_pidfd < 0)
		return -EBADF;
	r = (int)syscall(SYS_pidfd_getfd, own_pidfd, fd, 0);
	if (r >= 0)
		return r;
	r = -errno;
	if (r == -ESRCH)
		borrow_lost = true;
	return r;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif

int weft_fd_borrow_from(pid_t tid)
{
	int saved = errno, fd;

	if (!weft_tls.own_table)
		return -EBADF;
	fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd < 0) {
		fd = -errno;
		errno = saved;
		return fd;
	}
	if (own_pidfd >= 0)
		raw_close(own_pidfd);
	own_pidfd = fd;
	borrow_lost = false;
	return 0;
}

bool weft_fd_borrow_lost(void)
{
	return weft_tls.own_table && borrow_lost;
}

/*
 * weft_fd_use on the exporter's own table: the slot's number there; else a
 * borrowed copy of its number in the program's, which stays weft's meanwhile
 * (`users`, as for any use: a dup2 onto it waits).
 */
static int own_table_use(struct fd_slot *s)
{
	int fd;

	if (s->pnum)
		return s->pnum - 1;
	if (s->lent_depth) {
		s->lent_depth++;
		return s->lent - 1;
	}
	atomic_fetch_add(&s->users, 1);
	fd = slot_fd(s);
	fd = fd < 0 ? -EBADF : borrow(fd);
	if (fd < 0) {
		atomic_fetch_sub(&s->users, 1);
		return -EBADF;
	}
	s->lent = fd + 1;
	s->lent_depth = 1;
	return fd;
}

/* The last weft_fd_unuse of a borrowed copy: closed, and the program's number free to move. */
static void own_table_return(struct fd_slot *s)
{
	raw_close(s->lent - 1);
	s->lent = 0;
	atomic_fetch_sub(&s->users, 1);
}

int weft_fd_borrow(int fd)
{
	return weft_tls.own_table ? borrow(fd) : fd;
}

void weft_fd_unborrow(int copy)
{
	/* A copy may have the program's number, in the other table: told by the table. */
	if (copy >= 0 && weft_tls.own_table)
		raw_close(copy);
}

/*
 * Whether a table of its own may be tried here. Not under valgrind, which
 * runs every thread's system calls for its own descriptors too (its log, its
 * debug information), nor under ThreadSanitizer, whose descriptor model is
 * one table for the whole process; nor under a seccomp filter (as for the
 * helper); nor where the kernel lacks what it takes (pidfd_getfd: 5.6,
 * close_range: 5.9). The probes have no effect where the calls exist. (Thread
 * pidfds, 6.9, are used where they exist: weft_fd_borrow_from.)
 */
static bool own_table_possible(void)
{
#if defined(__SANITIZE_THREAD__)
	return false;
#else
	if (under_valgrind)
		return false;
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0)
		return false;
	if (syscall(SYS_pidfd_getfd, -1, 0, 0) >= 0 || errno != EBADF)
		return false;
	return syscall(SYS_close_range, 2u, 1u, 0) < 0 && errno == EINVAL;
#endif
}

static int by_number(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Closes every number of the calling thread's table but the `n` in keep (ascending). */
static void close_all_but(const int *keep, int n)
{
	unsigned lo = 0;

	for (int k = 0; k <= n; k++) {
		unsigned hi = k < n ? (unsigned)keep[k] : ~0u;

		if (hi > lo)
			syscall(SYS_close_range, lo, k < n ? hi - 1 : hi, 0);
		lo = hi + 1;
	}
}

/* 0, 1 and 2 of the own table: /dev/null, so that nothing written there lands in weft's files. */
static void fill_stdio(void)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = (int)syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (int n = fd + 1; fd >= 0 && n <= STDERR_FILENO; n++)
		fcntl(fd, F_DUPFD_CLOEXEC, n);
}

bool weft_fd_take_own_table(void)
{
	int keep[WEFT_FD_SLOTS], n = 0;
	int saved = errno;

	if (weft_tls.own_table || !own_table_possible()) {
		errno = saved;
		return weft_tls.own_table;
	}
	change_begin();
	if (unshare(CLONE_FILES) != 0) {
		change_end();
		errno = saved;
		return false;
	}
	weft_tls.own_table = true;
	atomic_store(&own_table_live, true);
	own_stderr_gen = atomic_load(&stderr_gen);
	/* weft's descriptors are copied at the same numbers: kept. */
	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		int fd = slot_fd(&slots[i]);

		/* The program's stderr itself: a copy of its own here (0-2 become /dev/null). */
		if (slots[i].used && fd >= 0 && (slots[i].flags & FD_ITSELF))
			fd = dup_from(fd, STDERR_FILENO + 1);
		if (!slots[i].used || fd < 0)
			continue;
		slots[i].pnum = fd + 1;
		keep[n++] = fd;
	}
	qsort(keep, (size_t)n, sizeof(keep[0]), by_number); /* 16 at most: sorted on the stack */
	close_all_but(keep, n);
	change_end();
	fill_stdio();
	own_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0); /* close-on-exec, as every pidfd */
	errno = saved;
	return true;
}

void weft_fd_own_table_refresh(void)
{
	struct fd_slot *s;
	unsigned gen;
	int copy;

	if (!weft_tls.own_table || own_stderr_gen == atomic_load(&stderr_gen))
		return;
	change_begin();
	s = slot_of(stderr_handle);
	gen = atomic_load(&stderr_gen);
	copy = !s || slot_fd(s) < 0 ? -EBADF : borrow(slot_fd(s));
	/*
	 * The new copy; or none when the program's is gone too (never the stderr
	 * the program let go of). When the program's is there but cannot be
	 * borrowed (main has exited: see weft_fd_borrow_from), the old copy
	 * stays, and the next turn tries again.
	 */
	if (copy >= 0 || !s || slot_fd(s) < 0) {
		if (s && s->pnum)
			raw_close(s->pnum - 1);
		if (s)
			s->pnum = copy < 0 ? 0 : copy + 1;
		if (s && copy < 0)
			release_locked((int)(s - slots), false); /* neither table has it: freed */
		own_stderr_gen = gen;
	}
	change_end();
}

void weft_fd_own_table_leave(void)
{
	atomic_store(&own_table_live, false);
}

int weft_fd_use(int h)
{
	struct fd_slot *s = slot_of(h);
	int fd;

	if (!s)
		return -EBADF;
	if (weft_tls.own_table)
		return own_table_use(s);
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

	if (!s)
		return;
	if (!weft_tls.own_table)
		atomic_fetch_sub(&s->users, 1);
	else if (!s->pnum && s->lent_depth && --s->lent_depth == 0)
		own_table_return(s);
}

int weft_fd_number(int h)
{
	struct fd_slot *s = slot_of(h);
	int fd = !s ? -1 : weft_tls.own_table ? s->pnum - 1 : slot_fd(s);

	return fd < 0 ? -EBADF : fd;
}

bool weft_fd_in_program_table(int h)
{
	struct fd_slot *s = slot_of(h);

	return s && slot_fd(s) >= 0;
}

/*
 * Under the lock: closes slot i's descriptor in the calling thread's table
 * (if it is still weft's), and frees the slot unless the other table still
 * has a copy.
 */
static int release_locked(int i, bool close_it)
{
	struct fd_slot *s = &slots[i];
	int fd, r = 0;

	if (weft_tls.own_table) {
		fd = s->pnum - 1;
		s->pnum = 0;
	} else {
		fd = slot_fd(s);
		slot_set(s, -1);
	}
	if (fd >= 0 && close_it && (weft_tls.own_table || !(s->flags & FD_ITSELF)) &&
	    raw_close(fd) != 0)
		r = -errno;
	if ((s->pnum && atomic_load(&own_table_live)) || slot_fd(s) >= 0)
		return r;
	s->pnum = 0;
	s->used = false;
	atomic_fetch_add(&s->gen, 1);
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
	if (fd < 0 || weft_tls.own_table)
		return false;
	wait_for_change();
	for (int i = 0; i < WEFT_FD_SLOTS; i++)
		if (owned_fd(&slots[i]) == fd)
			return true;
	return false;
}

int weft_fd_next_owned(int fd)
{
	int next = INT_MAX;

	if (weft_tls.own_table)
		return next;
	wait_for_change();
	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		int n = owned_fd(&slots[i]);

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
	struct weft_held held;

	if (!in_table_process() || weft_tls.own_table)
		return false; /* a vfork child: weft's descriptors are the parent's */
	weft_guard_enter_held(&held);
	change_begin();
	for (int i = 0; i < WEFT_FD_SLOTS && !s; i++) {
		if (owned_fd(&slots[i]) != fd)
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
	weft_guard_leave_held(&held);
	errno = saved;
	return moved >= 0;
}

/* After a change of weft's stderr: the exporter's own table follows at its next turn. */
static void stderr_changed(void)
{
	atomic_fetch_add(&stderr_gen, 1);
	if (atomic_load(&own_table_live))
		weft_consumer_wake();
}

void weft_fd_stderr_redirected(void)
{
	struct fd_slot *s;
	int saved = errno, old = -1;
	struct weft_held held;

	if (atomic_load(&stderr_handle) == WEFT_FD_NOT_YET || !in_table_process() ||
	    weft_tls.own_table)
		return;
	weft_guard_enter_held(&held);
	change_begin();
	s = slot_of(atomic_load(&stderr_handle));
	if (!s) {
		atomic_store(&stderr_handle, itself_locked());
	} else if (!(s->flags & FD_ITSELF)) {
		/* The copy taken at a close of 2 gives way to the new descriptor 2. */
		old = slot_fd(s);
		s->flags |= FD_ITSELF;
		slot_set(s, STDERR_FILENO);
	}
	change_end();
	if (s && old >= 0) {
		wait_for_users(s);
		raw_close(old);
	}
	stderr_changed();
	weft_guard_leave_held(&held);
	errno = saved;
}

/*
 * Whether a reader may be waiting for the program to let go of fd: anything
 * but a regular file (a pipe's or a socket's reader waits for end-of-file, a
 * terminal's master for the hang-up).
 */
static bool someone_waits_on(int fd)
{
	struct stat st;

	return fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
}

void weft_fd_stderr_closing(void)
{
	struct fd_slot *s;
	int saved = errno, copy = -1;
	struct weft_held held;
	struct rlimit rl;

	s = slot_of(atomic_load(&stderr_handle));
	if (!s || !(s->flags & FD_ITSELF) || !in_table_process() || weft_tls.own_table)
		return;
	weft_guard_enter_held(&held);
	change_begin();
	s = slot_of(atomic_load(&stderr_handle));
	if (s && (s->flags & FD_ITSELF)) {
		if (!someone_waits_on(STDERR_FILENO) && getrlimit(RLIMIT_NOFILE, &rl) == 0)
			copy = place_high(STDERR_FILENO, &rl);
		if (copy >= 0) {
			slot_set(s, copy);
			s->flags &= ~FD_ITSELF;
		} else {
			release_locked((int)(s - slots), false);
		}
	}
	change_end();
	if (s) {
		wait_for_users(s); /* a write to 2 in flight ends before the program's close */
		if (copy < 0)
			stderr_changed();
	}
	weft_guard_leave_held(&held);
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

void weft_fd_bind_calls(void)
{
	struct rlimit rl;
	int saved = errno;

	(void)getrlimit(RLIMIT_NOFILE, &rl);
	(void)syscall(SYS_close, -1);
	(void)!openat(-1, "", O_RDONLY); /* ENOENT: an empty path opens nothing */
	errno = saved;
}

/* Not inherited: the parent's files and sockets. The child opens its own. */
void weft_fd_after_fork_child(void)
{
	int busy = HELPER_BUSY;

	/* A helper running at the fork was the parent's. */
	atomic_compare_exchange_strong(&proc_helper_state, &busy, HELPER_IDLE);
	locked_for_fork = false;
	table_pid = getpid();
	atomic_store(&change_lock, 1);
	atomic_store(&weft_fd_fast_limit, 0);
	own_pidfd = -1; /* the parent's exporter's table: none here */
	atomic_store(&own_table_live, false);
	/*
	 * Kept: what is to be inherited and is in the program's table. What the
	 * parent's exporter opened in its own table (the output directory, once
	 * it runs) is not in the child's: forgotten, so that the child opens its
	 * own (before a chroot, say).
	 */
	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		atomic_store(&slots[i].users, 0);
		slots[i].pnum = slots[i].lent = slots[i].lent_depth = 0;
		if (slots[i].used &&
		    (!(slots[i].flags & WEFT_FD_INHERIT) || slot_fd(&slots[i]) < 0))
			release_locked(i, true);
	}
	if (!slot_of(atomic_load(&output_dir_handle)))
		atomic_store(&output_dir_handle, -1);
	change_end();
}

/* The directory part of an output pattern, if it names one without `%`, kept for
 * weft_fd_output_dir_open. */
static void note_output_dir(const char *pattern)
{
	char dir[4096], cwd[4096];
	const char *slash = pattern ? strrchr(pattern, '/') : NULL;
	size_t n;

	if (!pattern || !pattern[0])
		return;
	if (!slash) {
		dir[0] = '\0'; /* the working directory itself */
	} else {
		n = (size_t)(slash - pattern);
		if (n == 0)
			n = 1; /* "/file": the root */
		if (n >= sizeof(dir) || memchr(pattern, '%', n))
			return;
		memcpy(dir, pattern, n);
		dir[n] = '\0';
	}
	/* Absolute: the directory the program was in at start, whatever it changes to. */
	if (dir[0] == '/')
		memcpy(output_dir_path, dir, strlen(dir) + 1);
	else if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/' ||
		 weft_format(output_dir_path, sizeof(output_dir_path), "%s%s%s", cwd,
			     dir[0] ? "/" : "", dir) >= (int)sizeof(output_dir_path))
		output_dir_path[0] = '\0';
}

const char *weft_fd_output_dir_path(void)
{
	return output_dir_path;
}

void weft_fd_output_dir_open(void)
{
	int saved = errno, h;
	struct weft_held held;

	if (!output_dir_path[0] || atomic_load(&output_dir_handle) >= 0 || !in_table_process())
		return;
	weft_guard_enter_held(&held);
	h = weft_fd_openat(AT_FDCWD, output_dir_path, O_PATH | O_DIRECTORY, 0,
			   WEFT_FD_INHERIT | WEFT_FD_HIGH_ONLY);
	if (h >= 0)
		atomic_store(&output_dir_handle, h);
	weft_guard_leave_held(&held);
	errno = saved;
}

void weft_fd_init(const char *output_pattern)
{
	static bool done;

	if (done)
		return;
	done = true;
	table_pid = getpid();
	under_valgrind = getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "/vgpreload_");
	/* Descriptor 2 itself while the program keeps it (fd.h); nowhere when it had none. */
	change_begin();
	atomic_store(&stderr_handle, fcntl(STDERR_FILENO, F_GETFD) < 0 ? -EBADF : itself_locked());
	change_end();
	note_output_dir(output_pattern);
	pthread_atfork(atfork_prepare, atfork_parent, weft_fd_after_fork_child);
}

int weft_fd_stderr(void)
{
	return atomic_load(&stderr_handle);
}

int weft_fd_output_dir(void)
{
	return atomic_load(&output_dir_handle);
}

int weft_fd_count(void)
{
	int n = 0;

	for (int i = 0; i < WEFT_FD_SLOTS; i++)
		n += owned_fd(&slots[i]) >= 0;
	return n;
}
