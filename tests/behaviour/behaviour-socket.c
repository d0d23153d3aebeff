/*
 * TCP, UDP and UNIX sockets: the contract of the calls weft interposes to see
 * connections (issue 10). connect (refused; blocking; non-blocking, settled
 * by poll and getsockopt(SO_ERROR), then connect again), accept and accept4
 * (non-blocking, blocked until a client comes, interrupted by a signal with
 * and without SA_RESTART), blocking sends far larger than the socket's
 * buffer through send, write, writev and sendmsg (weft sends what fits
 * without blocking, then the rest: the program must still get everything,
 * in order, and one return value), recv with MSG_WAITALL, EPIPE with SIGPIPE
 * ignored and with MSG_NOSIGNAL, datagrams through sendto, recvfrom,
 * sendmmsg and recvmmsg, a descriptor passed with SCM_RIGHTS through
 * sendmsg and recvmsg, sendfile, and options through getsockopt.
 *
 * Ports and descriptor numbers are never printed, only compared.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "behaviour.h"

/* A TCP listener on loopback, port 0; its address in *addr. */
static int tcp_listener(struct sockaddr_in *addr, int type_flags)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	must(fd < 0 ? errno : 0, "socket");
	must(bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ? errno : 0, "bind");
	must(listen(fd, 8) ? errno : 0, "listen");
	must(getsockname(fd, (struct sockaddr *)addr, &len) ? errno : 0, "getsockname");
	return fd;
}

static int tcp_client(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	must(connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) ? errno : 0, "connect");
	return fd;
}

/* A connected TCP pair over loopback: c[0] the client, c[1] the accepted side. */
static void tcp_pair(int c[2])
{
	struct sockaddr_in addr;
	int l = tcp_listener(&addr, 0);

	c[0] = tcp_client(&addr);
	c[1] = accept(l, NULL, NULL);
	must(c[1] < 0 ? errno : 0, "accept");
	close(l);
}

static void close_both(const int c[2])
{
	close(c[0]);
	close(c[1]);
}

/* ------------------------------------------------------------ connect */

static void check_connect(void)
{
	struct sockaddr_in addr, gone;
	struct pollfd p;
	int l, fd, err = -1;
	socklen_t len = sizeof(err);

	/* A port that was ours a moment ago and now has no listener. */
	l = tcp_listener(&gone, 0);
	close(l);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	IO("connect to a closed port", connect(fd, (struct sockaddr *)&gone, sizeof(gone)));
	IO("  connect again", connect(fd, (struct sockaddr *)&gone, sizeof(gone)));
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	IO("non-blocking connect to a closed port",
	   connect(fd, (struct sockaddr *)&gone, sizeof(gone)));
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	IO("  poll", poll(&p, 1, 5000));
	IO("  getsockopt SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	printf("%-44s %s\n", "  its value", ename(err));
	close(fd);

	l = tcp_listener(&addr, 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	IO("non-blocking connect to a listener",
	   connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	IO("  poll", poll(&p, 1, 5000));
	len = sizeof(err);
	IO("  getsockopt SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	printf("%-44s %s\n", "  its value", ename(err));
	IO("  connect again", connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	IO("blocking connect to a listener", connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	IO("  getsockopt SO_TYPE", getsockopt(fd, SOL_SOCKET, SO_TYPE, &err, &len));
	fact("  SOCK_STREAM", err == SOCK_STREAM);
	IO("connect with a NULL address", connect(fd, NULL, 0));
	close(fd);
	IO("connect on a closed descriptor", connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
	close(l);
}

/* ------------------------------------------------------------ accept */

struct acceptor {
	pthread_t th;
	_Atomic pid_t tid;
	int l, four;
	long rc;
	int err;
};

static void *accept_main(void *arg)
{
	struct acceptor *a = arg;

	atomic_store(&a->tid, tid_self());
	errno = SENTINEL;
	a->rc = a->four ? accept4(a->l, NULL, NULL, SOCK_CLOEXEC) : accept(a->l, NULL, NULL);
	a->err = errno;
	return NULL;
}

static void start_accept(struct acceptor *a, int l, int four)
{
	a->l = l;
	a->four = four;
	atomic_store(&a->tid, 0);
	must(pthread_create(&a->th, NULL, accept_main, a), "create");
	while (atomic_load(&a->tid) == 0)
		sleep_ms(1);
	BLOCKED_IN(a->tid, l, SYS_accept, SYS_accept4);
}

static long finish_accept(struct acceptor *a, const char *what)
{
	pthread_join(a->th, NULL);
	errno = a->err;
	io_observe(what, a->rc >= 0 ? 0 : a->rc);
	return a->rc;
}

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	handled++;
}

static void handle(int sig, int flags)
{
	install_handler(sig, on_signal, flags);
}

static void check_accept(void)
{
	struct sockaddr_in addr, peer;
	socklen_t len = sizeof(peer);
	struct acceptor a;
	int l, fd, c;
	char b;

	l = tcp_listener(&addr, SOCK_NONBLOCK);
	IO("accept on an idle non-blocking listener", accept(l, NULL, NULL));
	IO("accept4 on it", accept4(l, NULL, NULL, SOCK_NONBLOCK));
	c = tcp_client(&addr);
	fd = accept4(l, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK);
	fact("accept4 SOCK_NONBLOCK: a descriptor", fd >= 0);
	fact("  its peer's address filled in", len == sizeof(peer) && peer.sin_family == AF_INET);
	fact("  non-blocking", fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	IO("  recv with nothing sent", recv(fd, &b, 1, 0));
	close(fd);
	close(c);
	close(l);

	l = tcp_listener(&addr, 0);
	for (int four = 0; four < 2; four++) {
		start_accept(&a, l, four);
		c = tcp_client(&addr);
		if (finish_accept(&a, four ? "blocked accept4: a client connects"
					   : "blocked accept: a client connects") >= 0)
			close((int)a.rc);
		close(c);
	}
	for (int restart = 1; restart >= 0; restart--) {
		handle(SIGUSR1, restart ? SA_RESTART : 0);
		handled = 0;
		start_accept(&a, l, 0);
		pthread_kill(a.th, SIGUSR1);
		while (handled == 0)
			sleep_ms(1);
		if (restart) {
			BLOCKED_IN(a.tid, l, SYS_accept, SYS_accept4);
			c = tcp_client(&addr);
		}
		if (finish_accept(&a, restart ? "accept interrupted (SA_RESTART): restarted"
					      : "accept interrupted (no SA_RESTART)") >= 0)
			close((int)a.rc);
		if (restart)
			close(c);
	}
	signal(SIGUSR1, SIG_DFL);
	close(l);
}

/* ------------------------------------------------------------ large blocking sends */

enum { BIG = 4 << 20 };

struct drain {
	int fd;
	size_t got;
	uint64_t sum;
};

/* Reads to end of file in small bites, slowly at first, so that the sender blocks. */
static void *drain_main(void *arg)
{
	struct drain *d = arg;
	unsigned char buf[16384];
	ssize_t n;
	int i = 0;

	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n; k++)
			d->sum = d->sum * 31 + buf[k];
		d->got += (size_t)n;
		if (i++ < 8)
			sleep_ms(5);
	}
	return NULL;
}

static void check_big_sends(void)
{
	static unsigned char big[BIG];
	static const char *const how[] = { "send", "write", "writev", "sendmsg" };
	uint64_t want = 0;

	for (size_t k = 0; k < sizeof(big); k++) {
		big[k] = (unsigned char)(k * 7 + k / 4096);
		want = want * 31 + big[k];
	}
	for (int h = 0; h < 4; h++) {
		struct iovec iov[3] = { { big, 1000 },
					{ big + 1000, BIG / 2 - 1000 },
					{ big + BIG / 2, BIG / 2 } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };
		struct drain d = { 0 };
		pthread_t th;
		char what[64];
		int c[2];
		long rc = 0;

		tcp_pair(c);
		d.fd = c[1];
		must(pthread_create(&th, NULL, drain_main, &d), "create");
		errno = SENTINEL;
		/* clang-format off */
		switch (h) {
		case 0: rc = send(c[0], big, BIG, 0); break;
		case 1: rc = write(c[0], big, BIG); break;
		case 2: rc = writev(c[0], iov, 3); break;
		case 3: rc = sendmsg(c[0], &m, 0); break;
		}
		/* clang-format on */
		snprintf(what, sizeof(what), "blocking %s of 4 MiB to a slow reader", how[h]);
		io_observe(what, rc);
		shutdown(c[0], SHUT_WR);
		pthread_join(th, NULL);
		fact("  the reader got every byte", d.got == BIG);
		fact("  in order", d.sum == want);
		close_both(c);
	}
}

/* ------------------------------------------------------------ receives and EPIPE */

static void *late_sender(void *arg)
{
	int fd = *(int *)arg;

	sleep_ms(50);
	(void)!send(fd, "0123456789", 10, 0);
	return NULL;
}

static void check_receives(void)
{
	char buf[64];
	pthread_t th;
	int c[2];

	tcp_pair(c);
	IO("send 10", send(c[1], "abcdefghij", 10, 0));
	must(pthread_create(&th, NULL, late_sender, &c[1]), "create");
	IO("recv 20 MSG_WAITALL, 10 now and 10 later", recv(c[0], buf, 20, MSG_WAITALL));
	content("  got", buf, 20);
	pthread_join(th, NULL);
	IO("recv MSG_DONTWAIT with nothing sent", recv(c[0], buf, sizeof(buf), MSG_DONTWAIT));
	IO("send 3", send(c[1], "xyz", 3, 0));
	IO("recv MSG_PEEK", recv(c[0], buf, sizeof(buf), MSG_PEEK));
	IO("recv", recv(c[0], buf, sizeof(buf), 0));
	content("  got", buf, 3);
	IO("shutdown SHUT_WR", shutdown(c[1], SHUT_WR));
	IO("recv at the peer's shutdown", recv(c[0], buf, sizeof(buf), 0));
	close_both(c);

	/* EPIPE: the peer is gone and has reset the connection. */
	signal(SIGPIPE, SIG_IGN);
	tcp_pair(c);
	close(c[1]);
	sleep_ms(20);
	(void)!send(c[0], "x", 1, 0); /* draws the reset */
	sleep_ms(20);
	IO("send after the peer's reset (SIGPIPE ignored)", send(c[0], "x", 1, 0));
	IO("write after it", write(c[0], "x", 1));
	handle(SIGPIPE, 0);
	handled = 0;
	IO("send MSG_NOSIGNAL (SIGPIPE handled)", send(c[0], "x", 1, MSG_NOSIGNAL));
	fact("  no SIGPIPE", handled == 0);
	IO("send (SIGPIPE handled)", send(c[0], "x", 1, 0));
	fact("  SIGPIPE delivered", handled == 1);
	signal(SIGPIPE, SIG_DFL);
	close(c[0]);
}

/* ------------------------------------------------------------ datagrams, fds, files */

static void check_datagrams(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, from;
	socklen_t len = sizeof(a);
	struct mmsghdr v[3];
	struct iovec iov[3];
	char bufs[3][8], buf[32];
	int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	must(bind(s, (struct sockaddr *)&a, sizeof(a)) ? errno : 0, "bind");
	getsockname(s, (struct sockaddr *)&a, &len);
	IO("udp sendto", sendto(c, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)));
	len = sizeof(from);
	IO("udp recvfrom", recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len));
	fact("  the sender's address", len == sizeof(from) && from.sin_family == AF_INET);
	IO("udp connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	memset(v, 0, sizeof(v));
	for (int i = 0; i < 3; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "msg%d", i);
		iov[i] = (struct iovec){ bufs[i], 4 };
		v[i].msg_hdr.msg_iov = &iov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	IO("sendmmsg 3", sendmmsg(c, v, 3, 0));
	memset(bufs, 0, sizeof(bufs));
	IO("recvmmsg 3", recvmmsg(s, v, 3, MSG_WAITFORONE, NULL));
	content("  the last", bufs[2], 4);
	IO("recvmmsg with none waiting (MSG_DONTWAIT)", recvmmsg(s, v, 3, MSG_DONTWAIT, NULL));
	close(s);
	close(c);
}

static void check_passing(void)
{
	char data = 'd', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &data, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int s[2], p[2], got = -1;
	char b[8];

	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s) ? errno : 0, "socketpair");
	must(pipe(p) ? errno : 0, "pipe");
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	IO("sendmsg with SCM_RIGHTS", sendmsg(s[0], &m, 0));
	memset(cbuf, 0, sizeof(cbuf));
	m.msg_controllen = sizeof(cbuf);
	IO("recvmsg", recvmsg(s[1], &m, 0));
	cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
	fact("  a descriptor arrived", got >= 0);
	IO("  writing through it", write(got, "ok", 2));
	IO("  read from the pipe", read(p[0], b, sizeof(b)));
	close(got);
	close(p[0]);
	close(p[1]);
	close_both(s);
}

static void check_sendfile(void)
{
	char path[] = "/tmp/weft-behaviour-XXXXXX", buf[64];
	int f = mkstemp(path), c[2];
	off_t off = 2;

	unlink(path);
	(void)!write(f, "0123456789", 10);
	tcp_pair(c);
	IO("sendfile 5 bytes from offset 2", sendfile(c[0], f, &off, 5));
	fact("  offset advanced to 7", off == 7);
	IO("  recv", recv(c[1], buf, sizeof(buf), 0));
	content("  got", buf, 5);
	IO("sendfile from a closed descriptor", sendfile(c[0], -1, NULL, 5));
	close_both(c);
	close(f);
}

void check_socket(void)
{
	check_connect();
	check_accept();
	check_big_sends();
	check_receives();
	check_datagrams();
	check_passing();
	check_sendfile();
}
