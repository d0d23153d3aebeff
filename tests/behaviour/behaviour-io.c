/*
 * Pipes, eventfds and socketpairs: the contract of the calls weft interposes
 * to treat those descriptors as channels (issue 9). read, write, readv,
 * writev, send, recv, sendto, recvfrom and splice on non-blocking and
 * blocking descriptors (EAGAIN, partial and short transfers, EOF), signals
 * that interrupt a blocked call with and without SA_RESTART, EPIPE with
 * SIGPIPE ignored, handled, blocked and fatal, a handler that writes to a pipe
 * (the self-pipe trick), and the descriptor calls that move or reuse a
 * channel's numbers: dup, dup2, dup3, fcntl(F_DUPFD_CLOEXEC), close_range and
 * an open that gets a closed pipe's number.
 *
 * Where a check needs a thread to be blocked in a call before it goes on, it
 * waits until the kernel shows that thread in that system call on that
 * descriptor (blocked_in), never for a guessed time. Return values that
 * depend on the kernel's pipe layout (a partial write into a nearly full
 * pipe) are printed exactly: they are the same natively and under weft on
 * one machine. Descriptor numbers are never printed, only compared.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "behaviour.h"

static void pipe_or_die(int p[2], int flags)
{
	must(pipe2(p, flags) == 0 ? 0 : errno, "pipe2");
}

static void close_pair(const int p[2])
{
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------- a thread blocked in a call */

enum how { DO_READ, DO_READV, DO_RECV, DO_WRITE, DO_EPOLL, DO_POLL };

struct blocked {
	pthread_t th;
	_Atomic pid_t tid;
	enum how how;
	int fd;
	size_t len;
	const char *data; /* DO_WRITE */
	long rc;
	int err;
	long long returned_ns;
	char buf[64];
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	struct iovec iov[2] = { { b->buf, 2 }, { b->buf + 2, b->len - 2 } };
	struct epoll_event ev;
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	atomic_store(&b->tid, tid_self());
	errno = SENTINEL;
	/* clang-format off */
	switch (b->how) {
	case DO_READ: b->rc = read(b->fd, b->buf, b->len); break;
	case DO_READV: b->rc = readv(b->fd, iov, 2); break;
	case DO_RECV: b->rc = recv(b->fd, b->buf, b->len, 0); break;
	case DO_WRITE: b->rc = write(b->fd, b->data, b->len); break;
	case DO_EPOLL: b->rc = epoll_wait(b->fd, &ev, 1, -1); break;
	case DO_POLL: b->rc = poll(&pfd, 1, -1); break;
	}
	/* clang-format on */
	b->err = errno;
	b->returned_ns = now_ns(CLOCK_MONOTONIC);
	return NULL;
}

/* Starts the call on a thread; returns once the thread is blocked in it. */
static void start_blocked(struct blocked *b, enum how how, int fd, size_t len)
{
	b->how = how;
	b->fd = fd;
	b->len = len;
	b->rc = 0;
	b->err = 0;
	atomic_store(&b->tid, 0);
	must(pthread_create(&b->th, NULL, blocked_main, b), "create");
	while (atomic_load(&b->tid) == 0)
		sleep_ms(1);
	/* clang-format off */
	switch (how) {
	case DO_READ: BLOCKED_IN(b->tid, fd, SYS_read); break;
	case DO_READV: BLOCKED_IN(b->tid, fd, SYS_readv); break;
	case DO_RECV: BLOCKED_IN(b->tid, fd, SYS_recvfrom); break;
	case DO_WRITE: BLOCKED_IN(b->tid, fd, SYS_write); break;
	case DO_EPOLL: BLOCKED_IN(b->tid, fd, SYS_epoll_wait, SYS_epoll_pwait); break;
	case DO_POLL: BLOCKED_IN(b->tid, -1, SYS_poll, SYS_ppoll); break;
	}
	/* clang-format on */
}

static void finish_blocked(struct blocked *b, const char *what)
{
	pthread_join(b->th, NULL);
	errno = b->err;
	io_observe(what, b->rc);
}

/* --------------------------------------------------------------- non-blocking */

static void check_nonblocking(void)
{
	static char big[70000];
	char buf[64];
	int p[2], q[2], e, s[2];
	uint64_t v;

	memset(big, 'n', sizeof(big));
	pipe_or_die(p, O_NONBLOCK);
	pipe_or_die(q, O_NONBLOCK);
	IO("non-blocking read of an empty pipe", read(p[0], buf, sizeof(buf)));
	IO("  readv", readv(p[0], &(struct iovec){ buf, sizeof(buf) }, 1));
	IO("  splice out of it", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
	close_pair(q);
	IO("pipe capacity", fcntl(p[0], F_GETPIPE_SZ));
	/* The kernel fills a pipe by pages: a write merges into the last page only if it fits. */
	IO("write all but 100 bytes of it", write(p[1], big, 65536 - 100));
	IO("  1000 bytes (atomic) into 100 free", write(p[1], big, 1000));
	IO("  5000 bytes (904 in the last page) into it", write(p[1], big, 5000));
	IO("  1 byte merges into the last page", write(p[1], big, 1));
	IO("  writev of 99", writev(p[1], &(struct iovec){ big, 99 }, 1));
	IO("  then full", write(p[1], big, 1));
	IO("  drain", read(p[0], big, sizeof(big)));
	IO("write all but one page", write(p[1], big, 65536 - 4096));
	IO("  5000 bytes: partial", write(p[1], big, 5000));
	IO("  then full", writev(p[1], &(struct iovec){ big, 10 }, 1));
	IO("  drain", read(p[0], big, sizeof(big)));
	IO("  then empty again", read(p[0], buf, sizeof(buf)));
	close_pair(p);

	e = eventfd(0, EFD_NONBLOCK);
	IO("non-blocking read of a zero eventfd", read(e, &v, 8));
	v = 0xfffffffffffffffeULL;
	IO("eventfd: write the largest count", write(e, &v, 8));
	v = 1;
	IO("  write 1 more: would overflow", write(e, &v, 8));
	IO("  read it", read(e, &v, 8));
	fact("  value is the largest count", v == 0xfffffffffffffffeULL);
	close(e);

	must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0 ? 0 : errno, "sp");
	IO("non-blocking recv of an empty socketpair", recv(s[0], buf, sizeof(buf), 0));
	IO("  read", read(s[0], buf, sizeof(buf)));
	IO("  recvfrom", recvfrom(s[0], buf, sizeof(buf), 0, NULL, NULL));
	close_pair(s);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");
	IO("recv MSG_DONTWAIT on a blocking socket", recv(s[0], buf, sizeof(buf), MSG_DONTWAIT));
	close_pair(s);

	/* O_NONBLOCK changed after creation: by ioctl(FIONBIO) and by fcntl(F_SETFL). */
	pipe_or_die(p, 0);
	IO("ioctl FIONBIO on a pipe's read end", ioctl(p[0], FIONBIO, &(int){ 1 }));
	IO("  F_GETFL has O_NONBLOCK", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
	IO("  read of the empty pipe", read(p[0], buf, sizeof(buf)));
	IO("  ioctl FIONBIO off", ioctl(p[0], FIONBIO, &(int){ 0 }));
	IO("  F_SETFL O_NONBLOCK", fcntl(p[0], F_SETFL, O_NONBLOCK));
	IO("  read again", read(p[0], buf, sizeof(buf)));
	IO("  F_SETFL 0", fcntl(p[0], F_SETFL, 0));
	IO("  F_GETFL has no O_NONBLOCK", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
	IO("  ioctl on a bad descriptor", ioctl(-1, FIONBIO, &(int){ 1 }));
	IO("  fcntl on a bad descriptor", fcntl(-1, F_GETFL));
	close_pair(p);
}

/* ------------------------------------------------ transfers: short, EOF, kinds */

static void check_transfers(void)
{
	char buf[64], a[8], b[16];
	struct iovec out[3] = { { "ab", 2 }, { "cde", 3 }, { "f", 1 } };
	struct iovec in[2] = { { a, 4 }, { b, sizeof(b) } };
	int p[2], q[2], s[2], e, f;
	uint64_t v;
	loff_t off = 2;

	pipe_or_die(p, 0);
	IO("write 10 bytes to a pipe", write(p[1], "0123456789", 10));
	content("  a read of 64: short", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	IO("writev 3 pieces", writev(p[1], out, 3));
	IO("  readv into 4 + 16", readv(p[0], in, 2));
	content("  first piece", a, 4);
	content("  second piece", b, 2);
	IO("write 6, then close the write end", write(p[1], "closed", 6));
	close(p[1]);
	content("  read", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	IO("  read at EOF", read(p[0], buf, sizeof(buf)));
	IO("  readv at EOF", readv(p[0], in, 2));
	close(p[0]);

	/* splice: pipe to pipe, file to pipe, pipe to socket, socket to pipe. */
	pipe_or_die(p, 0);
	pipe_or_die(q, 0);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");
	f = open("io-splice.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	IO("a file for splice", write(f, "spliced file", 12));
	IO("splice file (from offset 2) to pipe", splice(f, &off, p[1], NULL, 5, 0));
	fact("  file offset advanced to", (long)off);
	IO("splice pipe to pipe", splice(p[0], NULL, q[1], NULL, 100, 0));
	IO("splice pipe to socket", splice(q[0], NULL, s[0], NULL, 100, 0));
	IO("splice socket to pipe", splice(s[1], NULL, p[1], NULL, 100, 0));
	content("  what went round", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	close(q[1]);
	IO("splice out of a pipe at EOF", splice(q[0], NULL, p[1], NULL, 100, 0));
	IO("splice between two non-pipes", splice(f, NULL, s[0], NULL, 10, 0));
	close(f);
	unlink("io-splice.txt");
	close_pair(p);
	close(q[0]);

	/* send, recv, sendto, recvfrom, MSG_PEEK, shutdown on a stream socketpair. */
	IO("send 5 on a socketpair", send(s[0], "hello", 5, 0));
	IO("  sendto (no address) 6", sendto(s[0], " world", 6, 0, NULL, 0));
	content("  recv MSG_PEEK 3", buf, IO("  recv MSG_PEEK", recv(s[1], buf, 3, MSG_PEEK)));
	content("  recvfrom 64", buf, IO("  recvfrom", recvfrom(s[1], buf, 64, 0, NULL, NULL)));
	IO("  write 3", write(s[1], "abc", 3));
	content("  read", buf, IO("  read", read(s[0], buf, sizeof(buf))));
	IO("  shutdown(SHUT_WR)", shutdown(s[0], SHUT_WR));
	IO("  recv at EOF", recv(s[1], buf, sizeof(buf), 0));
	close_pair(s);

	/* Message boundaries: a datagram larger than the buffer is cut. */
	must(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s) == 0 ? 0 : errno, "socketpair");
	IO("seqpacket: send 10", send(s[0], "0123456789", 10, 0));
	IO("  send 3", send(s[0], "abc", 3, 0));
	IO("  recv 4 (truncated)", recv(s[1], buf, 4, 0));
	IO("  recv MSG_TRUNC 1 (next is 3)", recv(s[1], buf, 1, MSG_TRUNC));
	close_pair(s);

	/* eventfd: counts add up; EFD_SEMAPHORE reads 1 at a time; 8-byte buffers only. */
	e = eventfd(0, 0);
	v = 3;
	IO("eventfd: write 3", write(e, &v, 8));
	v = 4;
	IO("  write 4", write(e, &v, 8));
	IO("  read", read(e, &v, 8));
	fact("  value", (long)v);
	IO("  read into 4 bytes", read(e, &v, 4));
	IO("  write 4 bytes", write(e, &v, 4));
	v = UINT64_MAX;
	IO("  write UINT64_MAX", write(e, &v, 8));
	close(e);
	e = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	IO("eventfd semaphore (2): read", read(e, &v, 8));
	fact("  value", (long)v);
	IO("  read", read(e, &v, 8));
	IO("  read: empty", read(e, &v, 8));
	close(e);
}

/* ------------------------------------------------------- blocking, and signals */

static volatile sig_atomic_t io_handled;
static volatile sig_atomic_t self_pipe = -1;

static void on_io_signal(int sig)
{
	int saved = errno;

	io_handled++;
	if (self_pipe >= 0)
		(void)!write(self_pipe, "s", 1);
	errno = saved;
}

static void handle(int sig, int flags)
{
	install_handler(sig, on_io_signal, flags);
}

static void check_blocking(void)
{
	static char big[65536 + 100], sink[65536 + 100];
	struct blocked b;
	long long written;
	int p[2], s[2], e;
	uint64_t v = 5;

	/* A read of an empty pipe returns only once a writer has written. */
	pipe_or_die(p, 0);
	start_blocked(&b, DO_READ, p[0], sizeof(b.buf));
	sleep_ms(100);
	written = now_ns(CLOCK_MONOTONIC);
	IO("blocked read: writer writes 4", write(p[1], "late", 4));
	finish_blocked(&b, "  the read");
	fact("  it returned after the write", b.returned_ns >= written);
	content("  read", b.buf, b.rc);

	/* The same with readv, an eventfd and a socketpair. */
	start_blocked(&b, DO_READV, p[0], 10);
	sleep_ms(50);
	IO("blocked readv: writer writes 6", write(p[1], "vector", 6));
	finish_blocked(&b, "  the readv");
	content("  read", b.buf, b.rc);
	e = eventfd(0, 0);
	start_blocked(&b, DO_READ, e, 8);
	sleep_ms(50);
	IO("blocked eventfd read: write 5", write(e, &v, 8));
	finish_blocked(&b, "  the read");
	memcpy(&v, b.buf, 8);
	fact("  value", (long)v);
	close(e);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");
	start_blocked(&b, DO_RECV, s[1], sizeof(b.buf));
	sleep_ms(50);
	IO("blocked recv: peer sends 3", send(s[0], "abc", 3, 0));
	finish_blocked(&b, "  the recv");
	content("  read", b.buf, b.rc);
	close_pair(s);

	/* A write into a full pipe blocks until a reader frees a page. */
	memset(big, 'w', sizeof(big));
	b.data = big;
	start_blocked(&b, DO_WRITE, p[1], sizeof(big));
	sleep_ms(50);
	IO("blocked write of 65636: reader takes 4096", read(p[0], sink, 4096));
	finish_blocked(&b, "  the write");
	IO("  drain", read(p[0], sink, sizeof(sink)));
	close_pair(p);
}

static void check_eintr(void)
{
	static const int flags[] = { SA_RESTART, 0 };
	char what[80];

	for (unsigned i = 0; i < 2; i++) {
		const char *tag = flags[i] ? "SA_RESTART" : "no SA_RESTART";
		struct blocked b;
		int p[2], s[2], ep;
		struct epoll_event ev = { .events = EPOLLIN };

		handle(SIGUSR1, flags[i]);
		pipe_or_die(p, 0);
		must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");

		/* A blocked read: restarted with SA_RESTART (it then reads), else EINTR. */
		io_handled = 0;
		start_blocked(&b, DO_READ, p[0], sizeof(b.buf));
		pthread_kill(b.th, SIGUSR1);
		while (io_handled == 0)
			sleep_ms(1);
		if (flags[i])
			BLOCKED_IN(b.tid, p[0], SYS_read);
		(void)!write(p[1], "after", 5);
		snprintf(what, sizeof(what), "read interrupted (%s)", tag);
		finish_blocked(&b, what);
		fact("  handler ran", io_handled);
		if (!flags[i])
			IO("  the bytes are still there", read(p[0], b.buf, sizeof(b.buf)));

		io_handled = 0;
		start_blocked(&b, DO_RECV, s[1], sizeof(b.buf));
		pthread_kill(b.th, SIGUSR1);
		while (io_handled == 0)
			sleep_ms(1);
		if (flags[i])
			BLOCKED_IN(b.tid, s[1], SYS_recvfrom);
		(void)!send(s[0], "after", 5, 0);
		snprintf(what, sizeof(what), "recv interrupted (%s)", tag);
		finish_blocked(&b, what);
		if (!flags[i])
			IO("  the bytes are still there", recv(s[1], b.buf, sizeof(b.buf), 0));

		/* Readiness waits are never restarted, whatever the flags. */
		ep = epoll_create1(EPOLL_CLOEXEC);
		ev.data.fd = p[0];
		epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
		io_handled = 0;
		start_blocked(&b, DO_EPOLL, ep, 0);
		pthread_kill(b.th, SIGUSR1);
		snprintf(what, sizeof(what), "epoll_wait interrupted (%s)", tag);
		finish_blocked(&b, what);
		io_handled = 0;
		b.fd = p[0];
		start_blocked(&b, DO_POLL, p[0], 0);
		pthread_kill(b.th, SIGUSR1);
		snprintf(what, sizeof(what), "poll interrupted (%s)", tag);
		finish_blocked(&b, what);
		close(ep);
		close_pair(p);
		close_pair(s);
	}
	signal(SIGUSR1, SIG_DFL);
}

/* The self-pipe trick: a handler writes to a pipe the program then reads. */
static void check_self_pipe(void)
{
	char buf[16];
	int p[2];

	pipe_or_die(p, O_NONBLOCK | O_CLOEXEC);
	self_pipe = p[1];
	handle(SIGUSR2, SA_RESTART);
	io_handled = 0;
	for (int i = 0; i < 5; i++)
		raise(SIGUSR2);
	self_pipe = -1;
	fact("self-pipe: handler ran", io_handled);
	content("  the pipe holds", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	signal(SIGUSR2, SIG_DFL);
	close_pair(p);
}

/* ---------------------------------------------------------------- EPIPE, SIGPIPE */

static void check_epipe(void)
{
	char buf[8];
	int p[2], s[2], status = 0, sig = 0;
	sigset_t set, old;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	pipe_or_die(p, 0);
	close(p[0]);
	IO("write, no reader, SIGPIPE ignored", write(p[1], "x", 1));
	IO("  writev", writev(p[1], &(struct iovec){ "x", 1 }, 1));
	close(p[1]);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");
	close(s[1]);
	IO("send, peer closed, SIGPIPE ignored", send(s[0], "x", 1, 0));
	IO("  recv", recv(s[0], buf, sizeof(buf), 0));
	close(s[0]);

	handle(SIGPIPE, 0);
	io_handled = 0;
	pipe_or_die(p, 0);
	close(p[0]);
	IO("write, no reader, SIGPIPE handled", write(p[1], "x", 1));
	fact("  handler ran", io_handled);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 ? 0 : errno, "socketpair");
	close(s[1]);
	io_handled = 0;
	IO("send MSG_NOSIGNAL, peer closed", send(s[0], "x", 1, MSG_NOSIGNAL));
	fact("  handler ran", io_handled);
	close(s[0]);

	/* Blocked: the call fails and the signal waits, pending for the thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	IO("write, no reader, SIGPIPE blocked", write(p[1], "x", 1));
	fact("  SIGPIPE pending", sigtimedwait(&set, NULL, &(struct timespec){ 0, 0 }) == SIGPIPE);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* Default action: a child that writes into a pipe without reader dies of it. */
	signal(SIGPIPE, SIG_DFL);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		(void)!write(p[1], "x", 1);
		_exit(3);
	}
	waitpid(pid, &status, 0);
	fact("child: killed by a signal", WIFSIGNALED(status));
	if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	fact("  the signal is SIGPIPE", sig == SIGPIPE);
	close(p[1]);
}

/* ------------------------------------------------ descriptors: dup, reuse, close */

static void check_descriptors(void)
{
	char buf[64];
	int p[2], q[2], d, f, num;

	/* A pipe closed; a file opened on the same number is the file. */
	pipe_or_die(p, 0);
	IO("pipe: write 4", write(p[1], "pipe", 4));
	num = p[0];
	close_pair(p);
	f = open("io-reuse.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	fact("a file opened after close gets the number", f == num);
	IO("  write the file", write(f, "file bytes", 10));
	lseek(f, 0, SEEK_SET);
	content("  read it", buf, IO("  read", read(f, buf, sizeof(buf))));

	/* dup2 of the file over a new pipe's read end: that number reads the file. */
	pipe_or_die(p, 0);
	d = dup(p[0]);
	IO("dup2 the file over a pipe's read end", dup2(f, p[0]) == p[0]);
	lseek(f, 0, SEEK_SET);
	content("  read that number", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	IO("  write the pipe", write(p[1], "still", 5));
	content("  read the dup of the old end", buf, IO("  read", read(d, buf, sizeof(buf))));
	close(p[0]);
	close(f);
	unlink("io-reuse.txt");
	p[0] = d;

	/* Every copy of the write end works; EOF comes when the last one closes. */
	d = dup(p[1]);
	IO("write through dup", write(d, "x", 1));
	IO("dup2 to 50", dup2(p[1], 50));
	IO("  write through 50", write(50, "y", 1));
	IO("  dup2 50 onto itself", dup2(50, 50));
	IO("dup3 to 51 with O_CLOEXEC", dup3(p[1], 51, O_CLOEXEC));
	IO("  close-on-exec", fcntl(51, F_GETFD));
	IO("  write through 51", write(51, "z", 1));
	IO("  dup3 onto itself", dup3(51, 51, 0));
	num = fcntl(p[1], F_DUPFD_CLOEXEC, 60);
	fact("F_DUPFD_CLOEXEC from 60 gives 60 or more", num >= 60);
	IO("  close-on-exec", fcntl(num, F_GETFD));
	IO("  write through it", write(num, "w", 1));
	close(p[1]);
	close(d);
	close(50);
	close(51);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	content("  read", buf, IO("  read", read(p[0], buf, sizeof(buf))));
	IO("  one write end left: empty, not EOF", read(p[0], buf, sizeof(buf)));
	close(num);
	IO("  none left: EOF", read(p[0], buf, sizeof(buf)));
	close(p[0]);

	/* close_range over pipe descriptors: closed, or marked close-on-exec. */
	pipe_or_die(p, 0);
	pipe_or_die(q, 0);
	dup2(p[0], 100);
	dup2(p[1], 101);
	dup2(q[0], 102);
	dup2(q[1], 103);
	close_pair(q);
	IO("close_range(101, 103, 0)", close_range(101, 103, 0));
	for (int n = 101; n <= 103; n++)
		IO("  fcntl(F_GETFD) on it", fcntl(n, F_GETFD));
	IO("  the pipe's other write end still works", write(p[1], "on", 2));
	IO("  read through 100", read(100, buf, sizeof(buf)));
	IO("close_range(100, 100, CLOSE_RANGE_CLOEXEC)",
	   close_range(100, 100, CLOSE_RANGE_CLOEXEC));
	IO("  close-on-exec", fcntl(100, F_GETFD));
	IO("  write", write(p[1], "ok", 2));
	IO("  still reads", read(100, buf, sizeof(buf)));
	close(100);
	close_pair(p);

	/* chroot (weft opens its output directory first): the call's own answer. */
	IO("chroot to a missing directory", chroot("/nonexistent/weft"));
}

void check_io(void)
{
	check_nonblocking();
	check_transfers();
	check_blocking();
	check_eintr();
	check_self_pipe();
	check_epipe();
	check_descriptors();
}
