/*
 * weft's own descriptors, kept out of the program's way (LTTng-UST's fd
 * tracker is the model).
 *
 * weft holds a handful of descriptors inside a program that may close every
 * descriptor it did not open (daemons, closefrom, close_range, a double close)
 * and then open its own files on the same numbers. Checking a number before
 * using it (fstat) cannot work: the check and the use are two calls, and the
 * program can close and reopen in between. So weft owns its descriptors
 * instead:
 *
 * - weft_fd_own() moves a descriptor to a high number: at the soft
 *   RLIMIT_NOFILE (raised to the hard limit just for the F_DUPFD, then
 *   restored: a descriptor above the soft limit stays valid, and the program
 *   can still open exactly as many as natively, with the same numbers); when
 *   the hard limit leaves no room, the highest free number below the soft
 *   limit. Soft limits above WEFT_FD_HIGH_CAP are treated as that cap, so the
 *   kernel's descriptor table never grows to millions of entries for us.
 * - The close, close_range, closefrom, dup2 and dup3 hooks (hooks/fd.c) ask
 *   weft_fd_is_owned(): close of an owned number succeeds without closing;
 *   close_range and closefrom skip owned numbers; dup2/dup3 onto an owned
 *   number first moves weft's descriptor elsewhere (weft_fd_yield), then lets
 *   the program have the number.
 * - weft code never keeps a bare number: it keeps a handle and brackets each
 *   use with weft_fd_use()/weft_fd_unuse(), so a move never happens under a
 *   write in flight.
 *
 * The table (a few slots) is read lock-free. Changes — owning, closing,
 * moving — take a small spin lock that is held only across a few
 * non-blocking system calls. While a change is in progress, `fast_limit`
 * is 0, so every close goes to the slow path and waits for the change to end:
 * a program can never close the low number an open just returned to weft
 * before weft moved it up. Otherwise `fast_limit` is the lowest owned number,
 * and close of anything below it — every descriptor of an ordinary program —
 * costs one load and one compare.
 *
 * What remains: a close that passed its fast-path test just before a change
 * began, and then closes the number weft's open returned (a program closing a
 * descriptor it does not own, concurrently with weft opening a file) is not
 * seen. The window is a few instructions long, and only at an open. The
 * soft-limit raise is process-wide for one fcntl: a program's getrlimit at that
 * instant sees the raised value, and its setrlimit at that instant is undone.
 * And while weft holds a low number (from its open to the move), a program's
 * own open gets the next number instead: no system call opens at a chosen
 * number, and making the program's opens wait would make a thread blocked in
 * accept, or in the open of a FIFO, hold up weft. So once the program has a
 * second thread, weft opens nothing in the program's table:
 *
 * A table of its own. The exporter thread, where nearly all of weft's opens
 * happen (its output files, libcurl's loading and its name resolution, its
 * sockets, the modules it symbolises, /proc), takes a descriptor table of its
 * own as it starts (weft_fd_take_own_table: unshare(CLONE_FILES), then every
 * copied number closed but weft's own, and 0-2 made /dev/null). The program's
 * numbers never see those opens, and the program's closes and dup2s never
 * reach them. A slot then has a number in either table or both (`num`, the
 * program's; `pnum`, the exporter's: a copy made at the unshare, such as
 * descriptor 2): weft_fd_use answers with the calling thread's. The
 * exporter's copy of the program's stderr is refreshed after the program
 * redirects or closes it, at the exporter's next turn
 * (weft_fd_own_table_refresh), so that the old one is not held open for long
 * (a pipe's reader would wait for end-of-file after the program let go of
 * it). At start weft holds nothing in the program's table at all (see
 * weft_fd_init): stderr is descriptor 2 itself, and the output directory is
 * opened only in the exporter's table. A descriptor that is the program's only
 * (the depth probe of a program's pipe) is borrowed for the call with
 * pidfd_getfd (weft_fd_borrow), and so is a weft slot opened after the
 * unshare by a program thread (an export made at exit on the last thread).
 * The hooks keep the exporter's calls out of every table of the program's
 * descriptors (weft_tls.own_table). Where no own table can be had (kernels
 * before 5.9, a seccomp filter, valgrind, ThreadSanitizer), the exporter
 * shares the program's table as any thread does: then the files it reads
 * again and again — the kernel's figures under /proc, twice a second — are
 * read by weft_fd_read_proc in a helper's table, and so are the modules it
 * symbolises (weft_fd_map). Before the second thread exists, no other thread
 * can open meanwhile: the allocator's own opens are made then (exporter/
 * exporter.c, exporter_start), and a single-threaded process exports at
 * exit in the program's table.
 */
#ifndef WEFT_AGENT_FD_H
#define WEFT_AGENT_FD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/atomic.h"

enum { WEFT_FD_SLOTS = 16, WEFT_FD_HIGH_CAP = 4096 };

/* weft_fd_own flags. */
enum {
	/* A forked child keeps it (a stderr copy, the output directory). */
	WEFT_FD_INHERIT = 1,
	/*
	 * Used by number outside weft_fd_use (libcurl's sockets): never moved.
	 * A dup2 onto it hands the number to the program and the handle goes
	 * stale; its user sees that with weft_fd_number and abandons it.
	 */
	WEFT_FD_PINNED = 2,
	/*
	 * Only at a number the program cannot reach below its soft limit:
	 * -EMFILE rather than the highest free one below it.
	 */
	WEFT_FD_HIGH_ONLY = 4,
};

/* Every number below it is neither owned nor being changed (see above). */
extern _Atomic int weft_fd_fast_limit;

/* Whether fd is one of weft's, or a change is in progress: the hooks' test. */
static inline bool weft_fd_maybe_owned(int fd)
{
	return __builtin_expect(fd >= weft_load_acquire(&weft_fd_fast_limit), 0);
}

/*
 * Takes fd (a descriptor weft just opened) into the table, moved to a high
 * number, close-on-exec. Returns a handle (>= 0) or a negative errno; on
 * failure fd is closed. When no higher number is free, fd is owned where it
 * is.
 */
int weft_fd_own(int fd, unsigned flags);

/*
 * Opens a file with openat(dirfd, path, flags, mode) and owns the result
 * without ever letting the program close the number in between. When every
 * number below the soft limit is in use, opens above it (the limit raised for
 * the call). Returns a handle or a negative errno.
 */
int weft_fd_openat(int dirfd, const char *path, int flags, unsigned mode, unsigned own_flags);

/* One file under /proc/<this process>/ to read whole (weft_fd_read_proc). */
struct weft_proc_read {
	char path[48]; /* relative to the process's directory: "task/<tid>/schedstat" */
	char buf[96];  /* what was read (at most 95 bytes), NUL-terminated */
	ssize_t got;   /* the bytes read, or a negative errno */
};

/*
 * Reads n small files of this process's /proc directory, each whole, without
 * ever taking a number in the program's descriptor table: a helper task that
 * shares weft's memory (clone CLONE_VM|CLONE_VFORK, exit signal 0, all
 * signals blocked, reaped at once; the caller waits for it as for vfork)
 * gets a copy of the descriptor table, closes every descriptor in it
 * (close_range, its first system call), then opens, reads and closes them
 * all. The program's next open gets exactly the number it would get without
 * weft. Between the clone and that close_range (a few microseconds) the
 * helper holds copies of the program's descriptors: a close the program
 * makes in that instant takes effect when the helper lets go, as with a fork
 * or posix_spawn on another thread.
 *
 * A process that has never had a second thread needs no helper: no other
 * thread can open a file meanwhile. Where the helper cannot run, each file
 * is read in the program's table under the change lock instead (the lowest
 * free number held for one read and one close), and the helper is not tried
 * again in the process: architectures other than x86-64 and aarch64; under a
 * seccomp filter (one might kill the process for a clone it does not
 * expect); kernels before 5.9 (no close_range); valgrind (which runs the
 * clone as a fork). Nor is it for /proc (it still maps files) where another
 * process cannot read this one's directory: a /proc of another pid
 * namespace, none after a chroot, or one that hides this process's threads
 * from another process (hidepid=, a program that is no longer dumpable).
 * While it runs (tens of microseconds, twice a second at most) the helper
 * is one more task against RLIMIT_NPROC and a cgroup's pids.max: when the
 * clone is refused for that (EAGAIN), that batch is read in the program's
 * table. Returns true when nothing was read in the program's table while
 * another thread could open a file: by the helper, or in a single-threaded
 * process.
 */
bool weft_fd_read_proc(struct weft_proc_read *r, size_t n);

/*
 * Maps the file at the absolute path `path` whole, read-only and private,
 * without taking a number in the program's descriptor table while another
 * thread could open a file: the helper of weft_fd_read_proc opens, maps (in
 * the memory it shares with us) and closes it; where the helper cannot run,
 * the file is opened in the program's table under the change lock. Opened
 * non-blocking, and sized with lseek: a FIFO fails at once (ESPIPE), an
 * empty file or a device with EINVAL. The mapping, its size in *size; NULL
 * with errno.
 */
void *weft_fd_map(const char *path, size_t *size);

/* socket(2), close-on-exec, owned the same way. */
int weft_fd_socket(int family, int type, int protocol, unsigned own_flags);

/* eventfd(2), close-on-exec and non-blocking, owned the same way. */
int weft_fd_eventfd(unsigned initval, unsigned own_flags);

/*
 * accept4(2) on the owned listening socket `listener`: the connection,
 * close-on-exec and non-blocking, owned the same way. -EAGAIN when no client
 * waits.
 */
int weft_fd_accept(int listener, unsigned own_flags);

/* The current number of a handle, marked in use; -EBADF if it was taken. */
int weft_fd_use(int h);
void weft_fd_unuse(int h);

/* The current number without marking it (PINNED users); -EBADF if taken. */
int weft_fd_number(int h);

/*
 * Whether handle h still has a number in the program's table (false once the
 * program took it): on the exporter's own table, where weft_fd_number answers
 * with its copy, how it learns that the program's threads can no longer
 * reach the descriptor.
 */
bool weft_fd_in_program_table(int h);

/* Closes an owned descriptor (if still weft's) and forgets the handle. */
int weft_fd_close(int h);

/*
 * Forgets the handle without closing: the number was found closed (EBADF on
 * a write), which only a raw system call can do behind the hooks' back.
 */
int weft_fd_forget(int h);

/*
 * For the hooks, slow path. weft_fd_is_owned waits for a change in progress
 * (unless this thread is inside weft). weft_fd_yield makes way for a program's
 * dup2/dup3 onto fd: moves weft's descriptor elsewhere (or lets its handle go
 * stale) so that the real call can take the number. Returns true when a
 * copy that is no longer weft's remains at fd: the caller closes it if its
 * real call fails.
 */
bool weft_fd_is_owned(int fd);
bool weft_fd_yield(int fd);

/*
 * The next owned number at or above fd, or INT_MAX when there is none: how
 * close_range and closefrom split their range around weft's descriptors.
 */
int weft_fd_next_owned(int fd);

/*
 * On the exporter thread, as it starts: a descriptor table of its own (see
 * above). True when the thread has one; false when it shares the program's.
 * weft_fd_own_table_refresh, at each of its turns: a copy of the program's
 * current stderr in place of the one it redirected away from.
 * weft_fd_own_table_leave, when it stops without exporting (the final export
 * is then made on a program thread): copies it holds no longer keep a slot.
 * The own table itself stays: when the exporter is the process's last thread,
 * the exit and its final export run on it.
 */
bool weft_fd_take_own_table(void);
void weft_fd_own_table_refresh(void);
void weft_fd_own_table_leave(void);

/*
 * The program's descriptor fd, usable by the calling thread: fd itself on a
 * thread that shares the program's table; on the exporter's own table a copy
 * (pidfd_getfd), or a negative errno when it cannot be had. Give it back
 * with weft_fd_unborrow (which closes a copy).
 */
int weft_fd_borrow(int fd);
void weft_fd_unborrow(int copy);

/*
 * Borrowing goes through a pidfd of the process, that is of its main thread;
 * once main has exited (pthread_exit) it answers ESRCH. The exporter then
 * borrows from another live thread of the program's (weft_fd_borrow_from, a
 * thread pidfd), and again whenever weft_fd_borrow_lost says that one has
 * gone too. weft_fd_borrow_from returns 0 or -errno (EINVAL: no thread pidfds
 * before Linux 6.9). Where it cannot, borrowing fails from then on: the
 * exporter keeps the stderr copy it has (one the program redirected away
 * from stays open, and receives weft's messages, until the process exits),
 * and the depths of the program's pipes go unmeasured.
 */
int weft_fd_borrow_from(pid_t tid);
bool weft_fd_borrow_lost(void);

/*
 * Binds the C library functions that owning a descriptor calls, so that a
 * forked child that opens its first file does not look them up again (the
 * parent before its first fork: exporter_before_fork). Opens nothing.
 */
void weft_fd_bind_calls(void);

/* In a forked child: closes what the child does not inherit. */
void weft_fd_after_fork_child(void);

/*
 * Agent initialisation opens nothing in the program's table, so that the
 * program's descriptor numbers, and how many it can open under `ulimit -n`,
 * are exactly as without weft, whatever the limits.
 *
 * weft's stderr (weft_fd_stderr: a handle, or negative for none) is the
 * program's descriptor 2 itself, used with weft_fd_use like any handle,
 * while the program keeps it. When the program closes it (close, close_range
 * or closefrom over 2: weft_fd_stderr_closing, before the real call), weft
 * keeps a copy at a high number (place_high) if it is a regular file and
 * there is room above the soft limit; otherwise weft's stderr is gone and
 * its messages go nowhere: never to a file the program's next open puts at
 * 2, and never holding open a pipe, socket or terminal whose reader waits
 * for the program to let go. When the program makes descriptor 2 a copy of
 * another file (dup2/dup3 onto 2, as daemon(3) does with /dev/null:
 * weft_fd_stderr_redirected, after the real call), weft's stderr is the new
 * descriptor 2, and a copy weft kept is closed. Where there was no stderr at
 * start, there is none until such a dup2.
 *
 * The output directory is noted as an absolute path (the directory part of
 * the output pattern, from the working directory at start):
 * weft_fd_output_dir_path. It is opened (weft_fd_output_dir_open) only where
 * that costs the program nothing or where the path would stop working: on
 * the exporter's own table, and just before a chroot (the chroot hook) at a
 * high number (WEFT_FD_HIGH_ONLY); weft_fd_output_dir is its handle, or
 * negative.
 */
void weft_fd_init(const char *output_pattern);
#define WEFT_FD_NOT_YET (-1) /* weft_fd_stderr before weft_fd_init: use fd 2 itself */
int weft_fd_stderr(void);
int weft_fd_output_dir(void);
const char *weft_fd_output_dir_path(void);
void weft_fd_output_dir_open(void);
void weft_fd_stderr_closing(void);
void weft_fd_stderr_redirected(void);

/* How many slots are in use (tests). */
int weft_fd_count(void);

#endif
