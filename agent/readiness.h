/*
 * The hand-off from a readiness wait to the channel read that follows it.
 *
 * A thread that blocked in poll, ppoll, select, pselect or an epoll wait and
 * woke with something ready (the call returned more than 0) usually reads the
 * descriptor that became ready next, without blocking: that read's producer
 * links belong on the `wait poll` span, the wait that actually waited for the
 * bytes. hooks/poll.c calls weft_channel_polled once per such wait, after the
 * wait has been recorded (weft_wait_end_sys) and before returning to the
 * program; the channel code marks the thread so that its next channel read
 * links to that wait.
 *
 * agent/readiness.c defines a weak no-op, so that the poll hooks link and
 * work before (or without) the channel code; the channel code's definition
 * replaces it.
 */
#ifndef WEFT_AGENT_READINESS_H
#define WEFT_AGENT_READINESS_H

struct weft_thread;

/*
 * Thread `t` (the caller's own state) has just ended a readiness wait that
 * blocked and found something ready. Called on the program's thread, guard
 * not held, possibly from a signal handler; must not block, allocate from
 * the program's malloc, or change errno (the hook saves and restores it all
 * the same).
 */
void weft_channel_polled(struct weft_thread *t);

#endif
