/*
 * The only place weft spells out memory orders.
 *
 * Thin names over C11 atomics so that every lock-free file reads the same way
 * and every ordering is chosen deliberately (LTTng-UST's vatomic.h, libuv's
 * uv_async_send). Use relaxed for counters read only for reporting, acquire /
 * release to publish data between a producer and the exporter thread.
 */
#ifndef WEFT_AGENT_ATOMIC_H
#define WEFT_AGENT_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

#define weft_load_relaxed(p)         atomic_load_explicit((p), memory_order_relaxed)
#define weft_load_acquire(p)         atomic_load_explicit((p), memory_order_acquire)
#define weft_store_relaxed(p, v)     atomic_store_explicit((p), (v), memory_order_relaxed)
#define weft_store_release(p, v)     atomic_store_explicit((p), (v), memory_order_release)
#define weft_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define weft_fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define weft_exchange_acq_rel(p, v)  atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define weft_cas_release(p, expected, desired)                                                     \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_release,    \
					      memory_order_relaxed)
#define weft_cas_acq_rel(p, expected, desired)                                                     \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_acq_rel,  \
						memory_order_acquire)

/*
 * *p += v, for a word that one thread alone changes (any thread may read
 * it): on x86-64 one instruction without a lock prefix, so a signal handler
 * on that thread that adds to the word too cannot fall between its read and
 * its write, and the bus lock a locked addition pays (about 10 ns on the
 * development VM) is not paid. Ordered as an acquire-release addition: on
 * x86-64 every store is a release and the "memory" clobber keeps the
 * compiler from moving the thread's other accesses across it; elsewhere,
 * and under ThreadSanitizer (which sees no assembly), it is one.
 */
static inline void weft_own_add(_Atomic uint64_t *p, uint64_t v)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ volatile("addq %1, %0" : "+m"(*(uint64_t *)p) : "er"(v) : "memory");
#else
	atomic_fetch_add_explicit(p, v, memory_order_acq_rel);
#endif
}

#endif
