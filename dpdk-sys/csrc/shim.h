/* rvs dpdk-sys shim: out-of-line wrappers for DPDK's static-inline fast-path
 * functions (rte_ethdev.h, rte_mbuf.h, rte_errno.h), so that Rust can call
 * them. Every wrapper does exactly what the wrapped function does. */
#ifndef RVS_DPDK_SHIM_H
#define RVS_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

uint16_t rvs_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                              struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t rvs_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                              struct rte_mbuf **tx_pkts, uint16_t nb_pkts);
struct rte_mbuf *rvs_rte_pktmbuf_alloc(struct rte_mempool *mp);
int rvs_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
                               unsigned int count);
void rvs_rte_pktmbuf_free(struct rte_mbuf *m);
void rvs_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);
char *rvs_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *rvs_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *rvs_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int rvs_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
void *rvs_rte_pktmbuf_mtod(struct rte_mbuf *m);
int rvs_rte_pktmbuf_linearize(struct rte_mbuf *m);
int rvs_rte_errno(void);
/* rte_lcore_id(): the calling thread's lcore id, LCORE_ID_ANY (UINT32_MAX)
 * for a thread that is neither an EAL lcore nor registered. */
unsigned int rvs_rte_lcore_id(void);
unsigned int rvs_rte_mempool_size(const struct rte_mempool *mp);
/* rte_eal_init() that restores the calling thread's CPU affinity afterwards
 * (EAL pins the calling thread to the main lcore; OVS restores it too). */
int rvs_rte_eal_init_keep_affinity(int argc, char **argv);

#endif
