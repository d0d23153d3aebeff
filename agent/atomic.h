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

#endif
