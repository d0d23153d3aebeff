/*
 * The list of interposed functions, alone: agent/real.h generates the table
 * from it, and hooks/libweft.map.in the exported names. It includes nothing,
 * so that the version script can be preprocessed from it.
 */
#ifndef WEFT_AGENT_REAL_LIST_H
#define WEFT_AGENT_REAL_LIST_H

/*
 * X(name, failure convention, glibc symbol version or NULL, fallback or NULL)
 *
 * Conventions: RET (return ENOSYS), ERRNO (errno = ENOSYS, return -1),
 * NULL (errno = ENOSYS, return NULL), NORETURN (the hook handles it itself).
 *
 * The fallback is a function libc exports under another name (glibc's
 * __pthread_mutex_lock and friends exist for exactly this; agent/real.h
 * declares them as weft_glibc__pthread_...), or the system call itself for a
 * thin wrapper (weft_sys_close and the like, in agent/real.c): a hook reached
 * while its entry cannot be resolved — inside dlsym, when a program's malloc
 * takes a mutex — calls it, so a lock is always taken for real.
 *
 * The condition variables bind their GLIBC_2.3.2 versions (dlsym would too,
 * as they are the default ones; naming them keeps it so).
 *
 * WEFT_EXTRA_ROWS is empty; tests/behaviour/rows.py defines it to show that a
 * row without a hook, or a hook without a row, fails the build.
 */
#ifndef WEFT_EXTRA_ROWS
#define WEFT_EXTRA_ROWS(X)
#endif

#define WEFT_REAL_SYMBOLS(X)                                                                       \
	WEFT_EXTRA_ROWS(X)                                                                         \
	X(__libc_start_main, NORETURN, NULL, NULL)                                                 \
	X(_exit, NORETURN, NULL, NULL)                                                             \
	X(_Exit, NORETURN, NULL, NULL)                                                             \
	X(sigaction, ERRNO, NULL, NULL)                                                            \
	X(signal, NORETURN, NULL, NULL)                                                            \
	X(sysv_signal, NORETURN, NULL, NULL)                                                       \
	X(longjmp, NORETURN, NULL, NULL)                                                           \
	X(_longjmp, NORETURN, NULL, NULL)                                                          \
	X(siglongjmp, NORETURN, NULL, NULL)                                                        \
	X(__longjmp_chk, NORETURN, NULL, NULL)                                                     \
	X(pthread_create, RET, NULL, NULL)                                                         \
	X(pthread_join, RET, NULL, NULL)                                                           \
	X(pthread_tryjoin_np, RET, NULL, NULL)                                                     \
	X(pthread_timedjoin_np, RET, NULL, NULL)                                                   \
	X(pthread_clockjoin_np, RET, NULL, NULL)                                                   \
	X(pthread_detach, RET, NULL, NULL)                                                         \
	X(pthread_setname_np, RET, NULL, NULL)                                                     \
	X(pthread_exit, NORETURN, NULL, NULL)                                                      \
	X(pthread_mutex_lock, RET, NULL, weft_glibc__pthread_mutex_lock)                           \
	X(pthread_mutex_trylock, RET, NULL, weft_glibc__pthread_mutex_trylock)                     \
	X(pthread_mutex_timedlock, RET, NULL, NULL)                                                \
	X(pthread_mutex_clocklock, RET, NULL, NULL)                                                \
	X(pthread_mutex_unlock, RET, NULL, weft_glibc__pthread_mutex_unlock)                       \
	X(pthread_mutex_destroy, RET, NULL, NULL)                                                  \
	X(pthread_rwlock_rdlock, RET, NULL, weft_glibc__pthread_rwlock_rdlock)                     \
	X(pthread_rwlock_wrlock, RET, NULL, weft_glibc__pthread_rwlock_wrlock)                     \
	X(pthread_rwlock_tryrdlock, RET, NULL, weft_glibc__pthread_rwlock_tryrdlock)               \
	X(pthread_rwlock_trywrlock, RET, NULL, weft_glibc__pthread_rwlock_trywrlock)               \
	X(pthread_rwlock_timedrdlock, RET, NULL, NULL)                                             \
	X(pthread_rwlock_timedwrlock, RET, NULL, NULL)                                             \
	X(pthread_rwlock_clockrdlock, RET, NULL, NULL)                                             \
	X(pthread_rwlock_clockwrlock, RET, NULL, NULL)                                             \
	X(pthread_rwlock_unlock, RET, NULL, weft_glibc__pthread_rwlock_unlock)                     \
	X(pthread_cond_wait, RET, "GLIBC_2.3.2", NULL)                                             \
	X(pthread_cond_timedwait, RET, "GLIBC_2.3.2", NULL)                                        \
	X(pthread_cond_clockwait, RET, NULL, NULL)                                                 \
	X(pthread_cond_signal, RET, "GLIBC_2.3.2", NULL)                                           \
	X(pthread_cond_broadcast, RET, "GLIBC_2.3.2", NULL)                                        \
	X(sem_wait, ERRNO, NULL, NULL)                                                             \
	X(sem_timedwait, ERRNO, NULL, NULL)                                                        \
	X(sem_clockwait, ERRNO, NULL, NULL)                                                        \
	X(sem_trywait, ERRNO, NULL, NULL)                                                          \
	X(sem_post, ERRNO, NULL, NULL)                                                             \
	X(pthread_barrier_wait, RET, NULL, NULL)                                                   \
	X(pthread_spin_lock, RET, NULL, NULL)                                                      \
	X(pthread_spin_trylock, RET, NULL, NULL)                                                   \
	X(close, ERRNO, NULL, weft_sys_close)                                                      \
	X(close_range, ERRNO, NULL, weft_sys_close_range)                                          \
	X(closefrom, NORETURN, NULL, weft_sys_closefrom)                                           \
	X(dup2, ERRNO, NULL, weft_sys_dup2)                                                        \
	X(chroot, ERRNO, NULL, NULL)                                                               \
	X(dup3, ERRNO, NULL, weft_sys_dup3)                                                        \
	X(dup, ERRNO, NULL, weft_sys_dup)                                                          \
	X(fcntl, ERRNO, NULL, weft_sys_fcntl)                                                      \
	X(fcntl64, ERRNO, NULL, weft_sys_fcntl)                                                    \
	X(ioctl, ERRNO, NULL, NULL)                                                                \
	/* Channels (hooks/io.c): creation, FIFO opens, transfers. */                              \
	X(pipe, ERRNO, NULL, NULL)                                                                 \
	X(pipe2, ERRNO, NULL, NULL)                                                                \
	X(eventfd, ERRNO, NULL, NULL)                                                              \
	X(socketpair, ERRNO, NULL, NULL)                                                           \
	X(mkfifo, ERRNO, NULL, NULL)                                                               \
	X(mkfifoat, ERRNO, NULL, NULL)                                                             \
	X(mknod, ERRNO, NULL, NULL)                                                                \
	X(mknodat, ERRNO, NULL, NULL)                                                              \
	X(open, ERRNO, NULL, NULL)                                                                 \
	X(open64, ERRNO, NULL, NULL)                                                               \
	X(openat, ERRNO, NULL, NULL)                                                               \
	X(openat64, ERRNO, NULL, NULL)                                                             \
	X(__open_2, ERRNO, NULL, NULL)                                                             \
	X(__open64_2, ERRNO, NULL, NULL)                                                           \
	X(__openat_2, ERRNO, NULL, NULL)                                                           \
	X(__openat64_2, ERRNO, NULL, NULL)                                                         \
	X(read, ERRNO, NULL, weft_sys_read)                                                        \
	X(write, ERRNO, NULL, weft_sys_write)                                                      \
	X(readv, ERRNO, NULL, weft_sys_readv)                                                      \
	X(writev, ERRNO, NULL, weft_sys_writev)                                                    \
	X(__read_chk, ERRNO, NULL, NULL)                                                           \
	X(recv, ERRNO, NULL, NULL)                                                                 \
	X(send, ERRNO, NULL, NULL)                                                                 \
	X(recvfrom, ERRNO, NULL, NULL)                                                             \
	X(sendto, ERRNO, NULL, NULL)                                                               \
	X(__recv_chk, ERRNO, NULL, NULL)                                                           \
	X(__recvfrom_chk, ERRNO, NULL, NULL)                                                       \
	X(splice, ERRNO, NULL, NULL)                                                               \
	/* Sockets (hooks/socket.c). */                                                            \
	X(socket, ERRNO, NULL, NULL)                                                               \
	X(bind, ERRNO, NULL, NULL)                                                                 \
	X(listen, ERRNO, NULL, NULL)                                                               \
	X(connect, ERRNO, NULL, NULL)                                                              \
	X(accept, ERRNO, NULL, NULL)                                                               \
	X(accept4, ERRNO, NULL, NULL)                                                              \
	X(getsockopt, ERRNO, NULL, NULL)                                                           \
	X(sendmsg, ERRNO, NULL, NULL)                                                              \
	X(recvmsg, ERRNO, NULL, NULL)                                                              \
	X(sendmmsg, ERRNO, NULL, NULL)                                                             \
	X(recvmmsg, ERRNO, NULL, NULL)                                                             \
	X(sendfile, ERRNO, NULL, NULL)                                                             \
	X(sendfile64, ERRNO, NULL, NULL)                                                           \
	/* Readiness waits (hooks/poll.c). */                                                      \
	X(poll, ERRNO, NULL, NULL)                                                                 \
	X(ppoll, ERRNO, NULL, NULL)                                                                \
	X(__poll_chk, ERRNO, NULL, NULL)                                                           \
	X(__ppoll_chk, ERRNO, NULL, NULL)                                                          \
	X(select, ERRNO, NULL, NULL)                                                               \
	X(pselect, ERRNO, NULL, NULL)                                                              \
	X(epoll_wait, ERRNO, NULL, NULL)                                                           \
	X(epoll_pwait, ERRNO, NULL, NULL)                                                          \
	X(epoll_pwait2, ERRNO, NULL, NULL)                                                         \
	/* Sleeps (hooks/sleep.c). */                                                              \
	X(nanosleep, ERRNO, NULL, weft_sys_nanosleep)                                              \
	X(clock_nanosleep, RET, NULL, NULL)                                                        \
	X(usleep, ERRNO, NULL, NULL)                                                               \
	X(sleep, NORETURN, NULL, weft_sys_sleep)                                                   \
	X(thrd_sleep, NORETURN, NULL, NULL)                                                        \
	/* The exec family (hooks/exec.c): channels follow their descriptors. */                   \
	X(execve, ERRNO, NULL, NULL)                                                               \
	X(posix_spawn, RET, NULL, NULL)                                                            \
	X(posix_spawnp, RET, NULL, NULL)                                                           \
	X(execv, ERRNO, NULL, NULL)                                                                \
	X(execvp, ERRNO, NULL, NULL)                                                               \
	X(execvpe, ERRNO, NULL, NULL)                                                              \
	X(execl, ERRNO, NULL, NULL)                                                                \
	X(execlp, ERRNO, NULL, NULL)                                                               \
	X(execle, ERRNO, NULL, NULL)                                                               \
	X(fexecve, ERRNO, NULL, NULL)                                                              \
	X(execveat, ERRNO, NULL, NULL)                                                             \
	/* The shell starters (hooks/shell.c): the shell continues the trace. */                   \
	X(system, ERRNO, NULL, NULL)                                                               \
	X(popen, NULL, NULL, NULL)                                                                 \
	X(pclose, ERRNO, NULL, NULL)                                                               \
	X(fclose, ERRNO, NULL, NULL)

#endif
