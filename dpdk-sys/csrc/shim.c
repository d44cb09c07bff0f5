/* See shim.h. */
#define _GNU_SOURCE
#include <sched.h>

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "shim.h"

uint16_t rvs_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                              struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
    return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t rvs_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                              struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
    return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *rvs_rte_pktmbuf_alloc(struct rte_mempool *mp)
{
    return rte_pktmbuf_alloc(mp);
}

int rvs_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
                               unsigned int count)
{
    return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void rvs_rte_pktmbuf_free(struct rte_mbuf *m)
{
    rte_pktmbuf_free(m);
}

void rvs_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
    rte_pktmbuf_free_bulk(mbufs, count);
}

char *rvs_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_append(m, len);
}

char *rvs_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_prepend(m, len);
}

char *rvs_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_adj(m, len);
}

int rvs_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_trim(m, len);
}

void *rvs_rte_pktmbuf_mtod(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod(m, void *);
}

int rvs_rte_pktmbuf_linearize(struct rte_mbuf *m)
{
    return rte_pktmbuf_linearize(m);
}

int rvs_rte_errno(void)
{
    return rte_errno;
}

unsigned int rvs_rte_lcore_id(void)
{
    return rte_lcore_id();
}

unsigned int rvs_rte_mempool_size(const struct rte_mempool *mp)
{
    return mp->size;
}

int rvs_rte_eal_init_keep_affinity(int argc, char **argv)
{
    cpu_set_t saved;
    int have = sched_getaffinity(0, sizeof saved, &saved) == 0;
    int ret = rte_eal_init(argc, argv);
    if (have) {
        (void) sched_setaffinity(0, sizeof saved, &saved);
    }
    return ret;
}
