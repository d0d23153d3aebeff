/*
 * chanplay: channels used in patterns whose telemetry is known exactly, one
 * pattern per mode (argv[1]), for tests/integration/test-channels.py. As in
 * pipeline.c, a writer writes only once its reader is seen blocked (see
 * channels.h), so every wait below is forced and every count exact.
 *
 *   poll       producer writes M messages of SIZE bytes into
 *              pipe:make_poll_pipe#1, each once consumer is blocked in a
 *              readiness call on it (await_readable: epoll_wait, epoll_pwait,
 *              epoll_pwait2, poll, ppoll, select, pselect, in turn); consumer
 *              then reads the message, which is ready: M `wait poll`, no read waits.
 *   eventfd    main (the notifier) writes 8-byte counts into
 *              eventfd:make_eventfd#1, each once waiter is blocked in read: M waits.
 *   socketpair client sends REQ bytes on socketpair:make_socketpair#1 once server
 *              is blocked in recv; server replies RESP bytes once client is
 *              blocked in recv: M waits in each.
 *   fifo       mkfifo("chan.fifo") in fifo:make_fifo#1; fifo_reader and
 *              fifo_writer open it, then M messages as above; then the writer
 *              closes its end while the reader is blocked in read: M + 1 waits,
 *              the last one ended by EOF (no bytes, so no link).
 *   writers    writer0..writer2 take turns writing SIZE bytes into
 *              pipe:make_shared_pipe#1, each once reader is blocked in read:
 *              TURNS waits, the i-th consuming writer(i % 3)'s bytes. Then
 *              reader blocks in poll; writer0 writes; after poll returned,
 *              writer1 and writer0 write again and reader writes SIZE itself,
 *              then reads all 4 * SIZE at once: one `wait poll` whose read
 *              consumed writer0's (twice), writer1's and its own bytes.
 *   fullpipe   filler fills pipe:make_full_pipe#1 (65536 bytes) and blocks
 *              writing SIZE more; main sleeps HOLD_MS, then reads 4096 (a page
 *              frees, the write ends) and the rest: one `wait pipe.write`.
 *   xproc      pipe:make_xpipe#1 across fork: the child writes XN bytes and
 *              lives on XLIVE_MS; the parent waits until they are readable
 *              (poll), does not read for HOLD_MS, reads them, waits for the
 *              child. Before and after, it moves FILE_BYTES bytes through a
 *              regular file and a loopback UDP socket, which are no channels.
 *              Just before the fork the parent moves PRE bytes through
 *              pipe:make_dead_pipe#1 and closes it, and PRE bytes through
 *              the xpipe: neither is any of the child's.
 *   reuse      pipe:make_reused#1 moves 10 bytes and is closed; a file opened
 *              next gets its read end's number; pipe:make_reused#2 (on the old
 *              write end's number) moves 20 bytes; the file is dup2()ed over
 *              its read end; 30 bytes go through the pipe to a dup() of the old
 *              read end; 40 from an F_DUPFD_CLOEXEC copy of the write end to a
 *              dup3() copy of the read end; close_range closes the pipe's last
 *              descriptors. The file's bytes (FILE_BYTES, written and read) are
 *              no channel's.
 *
 * Each mode prints `tid <role> <tid>`, `fd <name> <n>...`, `count <name> <n>`,
 * `pid <role> <pid>` where the test needs them, then `done`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "channels.h"

#define M          7
#define SIZE       64
#define REQ        40
#define RESP       200
#define TURNS      6
#define HOLD_MS    400
#define XN         3000
#define PRE        7
#define XLIVE_MS   1200
#define FILE_BYTES 777

/* The functions that create the channels (exported, see channels.h). */
CREATOR void make_poll_pipe(void);
CREATOR void make_eventfd(void);
CREATOR void make_socketpair(void);
CREATOR void make_fifo(void);
CREATOR void make_shared_pipe(void);
CREATOR void make_full_pipe(void);
CREATOR void make_dead_pipe(int p[2]);
CREATOR void make_xpipe(void);
CREATOR void make_reused(int p[2]);

static int fds[2];
static _Atomic pid_t tids[4];
static _Atomic int progress[4];

static void counts(void)
{
	printf("count M %d\ncount SIZE %d\ncount REQ %d\ncount RESP %d\ncount TURNS %d\n"
	       "count XN %d\ncount FILE_BYTES %d\n",
	       M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES);
}

/* ---------------------------------------------------------------------- poll */

static const char *const ready_calls[M] = { "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
					    "ppoll",      "select",      "pselect" };

/* Blocks until fd is readable, with readiness call number i. */
static NOINLINE void await_readable(int i, int ep, int fd)
{
	struct epoll_event ev;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	fd_set set;
	long rc = -1;

	FD_ZERO(&set);
	FD_SET(fd, &set);
	/* clang-format off */
	switch (i) {
	case 0: rc = epoll_wait(ep, &ev, 1, -1); break;
	case 1: rc = epoll_pwait(ep, &ev, 1, -1, NULL); break;
	case 2: rc = epoll_pwait2(ep, &ev, 1, NULL, NULL); break;
	case 3: rc = poll(&pfd, 1, -1); break;
	case 4: rc = ppoll(&pfd, 1, NULL, NULL); break;
	case 5: rc = select(fd + 1, &set, NULL, NULL, NULL); break;
	case 6: rc = pselect(fd + 1, &set, NULL, NULL, NULL, NULL); break;
	}
	/* clang-format on */
	if (rc != 1)
		fail("a readiness call did not report the one ready descriptor");
}

/* The system calls readiness call i may block in, and its first argument (-1: any). */
static void blocked_ready(pid_t tid, int i, int ep)
{
	/* clang-format off */
	switch (i) {
	case 0: BLOCKED_IN(tid, ep, SYS_epoll_wait, SYS_epoll_pwait); break;
	case 1: BLOCKED_IN(tid, ep, SYS_epoll_pwait); break;
	case 2: BLOCKED_IN(tid, ep, SYS_epoll_pwait2); break;
	case 3: BLOCKED_IN(tid, -1, SYS_poll, SYS_ppoll); break;
	case 4: BLOCKED_IN(tid, -1, SYS_ppoll); break;
	default: BLOCKED_IN(tid, -1, SYS_select, SYS_pselect6); break;
	}
	/* clang-format on */
}

static int poll_ep;

static void *consumer(void *arg)
{
	char msg[SIZE];

	announce("consumer", &tids[0]);
	for (int i = 0; i < M; i++) {
		await_readable(i, poll_ep, fds[0]);
		MUST(read(fds[0], msg, SIZE), SIZE);
		atomic_fetch_add(&progress[0], 1);
	}
	return NULL;
}

static void *producer(void *arg)
{
	char msg[SIZE];
	pid_t c;

	announce("producer", &tids[1]);
	c = await_tid(&tids[0]);
	memset(msg, 'p', SIZE);
	for (int i = 0; i < M; i++) {
		await_count(&progress[0], i);
		blocked_ready(c, i, poll_ep);
		MUST(write(fds[1], msg, SIZE), SIZE);
	}
	return NULL;
}

CREATOR void make_poll_pipe(void)
{
	if (pipe(fds) != 0)
		fail("pipe");
	printf("fd pipe %d %d\n", fds[0], fds[1]);
}

static void run_poll(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t c, p;

	make_poll_pipe();
	poll_ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = fds[0];
	MUST(epoll_ctl(poll_ep, EPOLL_CTL_ADD, fds[0], &ev), 0);
	for (int i = 0; i < M; i++)
		printf("call %d %s\n", i, ready_calls[i]);
	spawn(&c, consumer, NULL);
	spawn(&p, producer, NULL);
	join(p);
	join(c);
}

/* ------------------------------------------------------------------- eventfd */

static void *waiter(void *arg)
{
	uint64_t v;

	announce("waiter", &tids[0]);
	for (int i = 0; i < M; i++) {
		MUST(read(fds[0], &v, 8), 8);
		if (v != (uint64_t)i + 1)
			fail("waiter read a wrong count");
		atomic_fetch_add(&progress[0], 1);
	}
	return NULL;
}

CREATOR void make_eventfd(void)
{
	fds[0] = eventfd(0, EFD_CLOEXEC);
	if (fds[0] < 0)
		fail("eventfd");
	printf("fd eventfd %d\n", fds[0]);
}

static void run_eventfd(void)
{
	pthread_t w;
	pid_t t;

	make_eventfd();
	spawn(&w, waiter, NULL);
	t = await_tid(&tids[0]);
	for (int i = 0; i < M; i++) {
		uint64_t v = (uint64_t)i + 1;

		await_count(&progress[0], i);
		BLOCKED_IN(t, fds[0], SYS_read);
		MUST(write(fds[0], &v, 8), 8);
	}
	join(w);
}

/* ---------------------------------------------------------------- socketpair */

/* Odd and even rounds use different calls: every one is counted alike. */
static void *server(void *arg)
{
	char req[REQ], resp[RESP];
	pid_t c;

	announce("server", &tids[0]);
	c = await_tid(&tids[1]);
	memset(resp, 'r', RESP);
	for (int i = 0; i < M; i++) {
		if (i % 2 == 0)
			MUST(recv(fds[1], req, REQ, 0), REQ);
		else
			MUST(read(fds[1], req, REQ), REQ);
		atomic_fetch_add(&progress[0], 1);
		await_count(&progress[1], i);
		BLOCKED_IN(c, fds[0], SYS_recvfrom, SYS_read);
		if (i % 2 == 0)
			MUST(send(fds[1], resp, RESP, 0), RESP);
		else
			MUST(write(fds[1], resp, RESP), RESP);
	}
	return NULL;
}

static void *client(void *arg)
{
	char req[REQ], resp[RESP];
	struct iovec iov = { req, REQ };
	pid_t s;

	announce("client", &tids[1]);
	s = await_tid(&tids[0]);
	memset(req, 'q', REQ);
	for (int i = 0; i < M; i++) {
		await_count(&progress[0], i);
		BLOCKED_IN(s, fds[1], SYS_recvfrom, SYS_read);
		if (i % 2 == 0)
			MUST(send(fds[0], req, REQ, 0), REQ);
		else
			MUST(writev(fds[0], &iov, 1), REQ);
		if (i % 2 == 0)
			MUST(recv(fds[0], resp, RESP, 0), RESP);
		else
			MUST(recvfrom(fds[0], resp, RESP, 0, NULL, NULL), RESP);
		atomic_fetch_add(&progress[1], 1);
	}
	return NULL;
}

CREATOR void make_socketpair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		fail("socketpair");
	printf("fd socketpair %d %d\n", fds[0], fds[1]);
}

static void run_socketpair(void)
{
	pthread_t s, c;

	make_socketpair();
	spawn(&s, server, NULL);
	spawn(&c, client, NULL);
	join(c);
	join(s);
}

/* ---------------------------------------------------------------------- fifo */

#define FIFO "chan.fifo"

static void *fifo_reader(void *arg)
{
	char msg[SIZE];
	int fd;

	announce("fifo_reader", &tids[0]);
	fd = open(FIFO, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open fifo for reading");
	printf("fd fifo_read %d\n", fd);
	atomic_store(&progress[2], fd);
	for (int i = 0; i < M; i++) {
		MUST(read(fd, msg, SIZE), SIZE);
		atomic_fetch_add(&progress[0], 1);
	}
	MUST(read(fd, msg, SIZE), 0);
	close(fd);
	return NULL;
}

static void *fifo_writer(void *arg)
{
	char msg[SIZE];
	pid_t r;
	int fd;

	announce("fifo_writer", &tids[1]);
	r = await_tid(&tids[0]);
	fd = open(FIFO, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open fifo for writing");
	printf("fd fifo_write %d\n", fd);
	memset(msg, 'f', SIZE);
	await_count(&progress[2], 1);
	for (int i = 0; i < M; i++) {
		await_count(&progress[0], i);
		BLOCKED_IN(r, atomic_load(&progress[2]), SYS_read);
		MUST(write(fd, msg, SIZE), SIZE);
	}
	/* The reader's last read blocks and gets EOF: a wait without bytes, so no link. */
	await_count(&progress[0], M);
	BLOCKED_IN(r, atomic_load(&progress[2]), SYS_read);
	close(fd);
	return NULL;
}

CREATOR void make_fifo(void)
{
	unlink(FIFO);
	if (mkfifo(FIFO, 0600) != 0)
		fail("mkfifo");
}

static void run_fifo(void)
{
	pthread_t r, w;

	make_fifo();
	spawn(&r, fifo_reader, NULL);
	spawn(&w, fifo_writer, NULL);
	join(w);
	join(r);
	unlink(FIFO);
}

/* ------------------------------------------------------------------- writers */

static _Atomic int merged; /* steps of the merged read */

static void *shared_reader(void *arg)
{
	char buf[4 * SIZE];
	struct pollfd pfd = { .fd = fds[0], .events = POLLIN };

	announce("reader", &tids[3]);
	for (int i = 0; i < TURNS; i++) {
		MUST(read(fds[0], buf, SIZE), SIZE);
		atomic_fetch_add(&progress[0], 1);
	}
	MUST(poll(&pfd, 1, -1), 1);
	atomic_store(&merged, 1);
	/* No wait until the read: its links go on the poll wait. */
	while (atomic_load(&merged) < 3)
		sched_yield();
	memset(buf, 's', SIZE);
	MUST(write(fds[1], buf, SIZE), SIZE);
	MUST(read(fds[0], buf, sizeof(buf)), 4 * SIZE);
	return NULL;
}

static void *shared_writer(void *arg)
{
	int k = (int)(intptr_t)arg;
	char name[16], msg[SIZE];
	pid_t r;

	snprintf(name, sizeof(name), "writer%d", k);
	announce(name, &tids[k]);
	r = await_tid(&tids[3]);
	memset(msg, '0' + k, SIZE);
	for (int i = k; i < TURNS; i += 3) {
		await_count(&progress[0], i);
		BLOCKED_IN(r, fds[0], SYS_read);
		printf("turn %d writer%d\n", i, k);
		MUST(write(fds[1], msg, SIZE), SIZE);
	}
	if (k == 0) {
		await_count(&progress[0], TURNS);
		BLOCKED_IN(r, -1, SYS_poll, SYS_ppoll);
		MUST(write(fds[1], msg, SIZE), SIZE);
		await_count(&merged, 2);
		MUST(write(fds[1], msg, SIZE), SIZE);
		atomic_store(&merged, 3);
	} else if (k == 1) {
		await_count(&merged, 1);
		MUST(write(fds[1], msg, SIZE), SIZE);
		atomic_store(&merged, 2);
	}
	return NULL;
}

CREATOR void make_shared_pipe(void)
{
	if (pipe(fds) != 0)
		fail("pipe");
	printf("fd pipe %d %d\n", fds[0], fds[1]);
}

static void run_writers(void)
{
	pthread_t r, w[3];

	make_shared_pipe();
	spawn(&r, shared_reader, NULL);
	for (int k = 0; k < 3; k++)
		spawn(&w[k], shared_writer, (void *)(intptr_t)k);
	for (int k = 0; k < 3; k++)
		join(w[k]);
	join(r);
}

/* ------------------------------------------------------------------ fullpipe */

static void *filler(void *arg)
{
	static char big[65536];

	announce("filler", &tids[0]);
	memset(big, 'F', sizeof(big));
	MUST(write(fds[1], big, sizeof(big)), sizeof(big));
	MUST(write(fds[1], big, SIZE), SIZE);
	return NULL;
}

CREATOR void make_full_pipe(void)
{
	if (pipe(fds) != 0)
		fail("pipe");
	printf("fd pipe %d %d\n", fds[0], fds[1]);
}

static void run_fullpipe(void)
{
	static char buf[65536 + SIZE];
	pthread_t f;

	make_full_pipe();
	MUST(fcntl(fds[0], F_GETPIPE_SZ), 65536);
	spawn(&f, filler, NULL);
	BLOCKED_IN(await_tid(&tids[0]), fds[1], SYS_write);
	sleep_ms(HOLD_MS);
	MUST(read(fds[0], buf, 4096), 4096);
	join(f);
	MUST(read(fds[0], buf, sizeof(buf)), 65536 - 4096 + SIZE);
}

/* --------------------------------------------------------------------- xproc */

/*
 * Descriptors that are no channel: a regular file written and read back, and
 * an ordinary (UDP, loopback) socket that sends FILE_BYTES to itself.
 */
static void not_channels(void)
{
	char buf[FILE_BYTES];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int f = open("regular.txt", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(buf, 'x', sizeof(buf));
	MUST(write(f, buf, sizeof(buf)), FILE_BYTES);
	MUST(lseek(f, 0, SEEK_SET), 0);
	MUST(read(f, buf, sizeof(buf)), FILE_BYTES);
	close(f);
	unlink("regular.txt");
	MUST(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	MUST(getsockname(u, (struct sockaddr *)&a, &len), 0);
	MUST(sendto(u, buf, FILE_BYTES, 0, (struct sockaddr *)&a, sizeof(a)), FILE_BYTES);
	MUST(recv(u, buf, sizeof(buf), 0), FILE_BYTES);
	close(u);
}

CREATOR void make_dead_pipe(int p[2])
{
	if (pipe(p) != 0)
		fail("pipe");
}

CREATOR void make_xpipe(void)
{
	if (pipe(fds) != 0)
		fail("pipe");
	printf("fd pipe %d %d\n", fds[0], fds[1]);
}

static void *nothing(void *arg)
{
	return arg;
}

static void run_xproc(void)
{
	char buf[XN + 100];
	struct pollfd pfd;
	int status, dead[2];
	pid_t child;
	pthread_t th;

	/*
	 * weft's exporter thread starts with the program's second thread (a
	 * single-threaded program exports at exit only): one thread, so that
	 * the depth is sampled while the child's bytes wait.
	 */
	if (pthread_create(&th, NULL, nothing, NULL) != 0 || pthread_join(th, NULL) != 0)
		fail("pthread_create");
	not_channels();
	printf("count PRE %d\n", PRE);
	make_xpipe();
	/* Closed just before the fork: the parent's exporter has not yet given its slot back. */
	make_dead_pipe(dead);
	memset(buf, 'p', PRE);
	MUST(write(dead[1], buf, PRE), PRE);
	MUST(read(dead[0], buf, PRE), PRE);
	close(dead[0]);
	close(dead[1]);
	MUST(write(fds[1], buf, PRE), PRE);
	MUST(read(fds[0], buf, PRE), PRE);
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		close(fds[0]);
		memset(buf, 'c', XN);
		MUST(write(fds[1], buf, XN), XN);
		sleep_ms(XLIVE_MS);
		exit(0);
	}
	printf("pid parent %d\npid child %d\n", (int)getpid(), (int)child);
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	MUST(poll(&pfd, 1, -1), 1);
	sleep_ms(HOLD_MS);
	MUST(read(fds[0], buf, sizeof(buf)), XN);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child");
	MUST(read(fds[0], buf, sizeof(buf)), 0);
	close(fds[0]);
	sleep_ms(HOLD_MS);
	not_channels();
}

/* --------------------------------------------------------------------- reuse */

CREATOR void make_reused(int p[2])
{
	if (pipe(p) != 0)
		fail("pipe");
	printf("fd reused %d %d\n", p[0], p[1]);
}

static void run_reuse(void)
{
	char buf[FILE_BYTES];
	int p[2], q[2], f, r, w2, r3;

	make_reused(p);
	MUST(write(p[1], "0123456789", 10), 10);
	MUST(read(p[0], buf, sizeof(buf)), 10);
	close(p[0]);
	close(p[1]);
	sleep_ms(HOLD_MS);

	f = open("reuse.txt", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	printf("same_number_file %d\n", f == p[0]);
	memset(buf, 'x', sizeof(buf));
	MUST(write(f, buf, FILE_BYTES), FILE_BYTES);
	MUST(lseek(f, 0, SEEK_SET), 0);
	MUST(read(f, buf, sizeof(buf)), FILE_BYTES);

	make_reused(q);
	printf("same_number_pipe %d\n", q[0] == p[1]);
	MUST(write(q[1], buf, 20), 20);
	MUST(read(q[0], buf, sizeof(buf)), 20);

	r = dup(q[0]);
	MUST(dup2(f, q[0]), q[0]);
	MUST(lseek(q[0], 0, SEEK_SET), 0);
	MUST(read(q[0], buf, sizeof(buf)), FILE_BYTES);
	MUST(write(q[1], buf, 30), 30);
	MUST(read(r, buf, sizeof(buf)), 30);

	w2 = fcntl(q[1], F_DUPFD_CLOEXEC, 0);
	r3 = dup3(r, 90, O_CLOEXEC);
	MUST(r3, 90);
	close(q[1]);
	close(r);
	MUST(write(w2, buf, 40), 40);
	MUST(read(r3, buf, sizeof(buf)), 40);
	MUST(close_range(w2, w2, 0), 0);
	MUST(close_range(90, 90, 0), 0);
	close(q[0]);
	close(f);
	unlink("reuse.txt");
	sleep_ms(HOLD_MS);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} modes[] = {
		{ "poll", run_poll },
		{ "eventfd", run_eventfd },
		{ "socketpair", run_socketpair },
		{ "fifo", run_fifo },
		{ "writers", run_writers },
		{ "fullpipe", run_fullpipe },
		{ "xproc", run_xproc },
		{ "reuse", run_reuse },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; argc > 1 && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) != 0)
			continue;
		printf("tid main %d\n", (int)tid_self());
		counts();
		modes[i].run();
		printf("done\n");
		return 0;
	}
	fprintf(stderr,
		"usage: chanplay poll|eventfd|socketpair|fifo|writers|fullpipe|xproc|reuse\n");
	return 2;
}
