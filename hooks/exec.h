/*
 * The environment a new image or a spawned child gets (hooks/exec.c): a copy
 * of the one the program passes, with WEFT_TRACEPARENT (the span current on
 * the calling thread, or for an exec the one weft_agent_exec chooses) and,
 * when channels survive, WEFT_CHANNELS added. The exec and spawn hooks use
 * it, and so do system and popen (hooks/shell.c), which start their shell
 * themselves to pass it.
 */
#ifndef WEFT_HOOKS_EXEC_H
#define WEFT_HOOKS_EXEC_H

#include <stdbool.h>

/*
 * The copy, on the hook's stack when it fits (nearly always: no allocation,
 * nothing to free, safe in a signal handler or a vfork child), else from
 * weft's allocator.
 */
struct weft_env_copy {
	char **env;
	bool allocated;
	_Alignas(void *) char buf[4096];
};

/*
 * The environment to pass, also left in c->env: the copy, or `envp` itself
 * when weft has nothing to add (disabled or not ready, inside agent code,
 * the process and fd families off). `exec`: an exec (this image ends), not a
 * spawn. `channels`: whether the child's descriptors are the caller's (not
 * after posix_spawn file actions, which may put others at their numbers).
 */
char *const *weft_spawn_env(struct weft_env_copy *c, char *const envp[], bool exec, bool channels);

/* After the call that used it: frees a copy from the allocator; returns rc, errno untouched. */
int weft_spawn_env_done(struct weft_env_copy *c, int rc);

#endif
