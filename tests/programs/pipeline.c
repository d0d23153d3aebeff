/*
 * pipeline: three threads joined by two pipes, for tests/integration/test-channels.py.
 *
 *     stage1 --pipe:make_pipes#1--> stage2 --pipe:make_pipes#2--> stage3
 *
 * Every message is SIZE bytes (one write, one read: a pipe write of at most
 * PIPE_BUF bytes is atomic, and each read asks for exactly SIZE).
 *
 *   lockstep  M messages: stage1 writes message i only once stage2 is blocked
 *             in read on pipe 1; stage2 forwards it only once stage3 is
 *             blocked in read on pipe 2. Every read blocks: M waits in each
 *             reader, each consuming the bytes of one write by the stage before.
 *   slowed    B more messages: stage1 and stage2 go on in lockstep, but stage2
 *             writes into pipe 2 at once while stage3 is not reading. Once all
 *             B are in pipe 2, stage3 sleeps SLOW_MS (several metric exports
 *             see a queue depth of B * SIZE on pipe 2), then reads them: data
 *             ready, so no wait.
 *
 * So: stage2 makes M + B blocked reads, stage3 M; each pipe moves M + B
 * messages, (M + B) * SIZE bytes, each way; nothing is left in a pipe at the
 * end (the pipes stay open until exit). No write ever blocks.
 *
 * It prints `tid <role> <tid>` for each thread, `fd <pipe> <read end> <write
 * end>`, `count <name> <n>` for each constant, then `done`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <semaphore.h>
#include <string.h>

#include "channels.h"

#define M       8
#define B       5
#define SIZE    100
#define SLOW_MS 400

CREATOR void make_pipes(void);

static int p1[2], p2[2];
static _Atomic pid_t tids[3];
static _Atomic int read2, read3; /* messages stage2 / stage3 have read */
static sem_t filled;             /* stage2: all B slowed messages are in pipe 2 */

static void message(char *buf, int i)
{
	memset(buf, 'a' + i % 26, SIZE);
}

static void *stage1(void *arg)
{
	char msg[SIZE];
	pid_t t2;

	announce("stage1", &tids[0]);
	t2 = await_tid(&tids[1]);
	for (int i = 0; i < M + B; i++) {
		message(msg, i);
		await_count(&read2, i);
		BLOCKED_IN(t2, p1[0], SYS_read);
		MUST(write(p1[1], msg, SIZE), SIZE);
	}
	return NULL;
}

static void *stage2(void *arg)
{
	char msg[SIZE], want[SIZE];
	pid_t t3;

	announce("stage2", &tids[1]);
	t3 = await_tid(&tids[2]);
	for (int i = 0; i < M + B; i++) {
		MUST(read(p1[0], msg, SIZE), SIZE);
		atomic_fetch_add(&read2, 1);
		message(want, i);
		if (memcmp(msg, want, SIZE) != 0)
			fail("stage2 read a wrong message");
		if (i < M) {
			await_count(&read3, i);
			BLOCKED_IN(t3, p2[0], SYS_read);
		}
		MUST(write(p2[1], msg, SIZE), SIZE);
	}
	sem_post(&filled);
	return NULL;
}

static void *stage3(void *arg)
{
	char msg[SIZE], want[SIZE];

	announce("stage3", &tids[2]);
	for (int i = 0; i < M + B; i++) {
		if (i == M) {
			while (sem_wait(&filled) != 0)
				;
			sleep_ms(SLOW_MS);
		}
		MUST(read(p2[0], msg, SIZE), SIZE);
		atomic_fetch_add(&read3, 1);
		message(want, i);
		if (memcmp(msg, want, SIZE) != 0)
			fail("stage3 read a wrong message");
	}
	return NULL;
}

/* Creates both pipes: pipe:make_pipes#1 and pipe:make_pipes#2. */
CREATOR void make_pipes(void)
{
	if (pipe(p1) != 0)
		fail("pipe 1");
	if (pipe(p2) != 0)
		fail("pipe 2");
	printf("fd pipe1 %d %d\nfd pipe2 %d %d\n", p1[0], p1[1], p2[0], p2[1]);
}

int main(void)
{
	pthread_t t[3];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("tid main %d\n", (int)tid_self());
	printf("count M %d\ncount B %d\ncount SIZE %d\n", M, B, SIZE);
	sem_init(&filled, 0, 0);
	make_pipes();
	spawn(&t[2], stage3, NULL);
	spawn(&t[1], stage2, NULL);
	spawn(&t[0], stage1, NULL);
	for (int i = 0; i < 3; i++)
		join(t[i]);
	printf("done\n");
	return 0;
}
