/* What bindgen reads: the DPDK 22.11 public headers rvs uses, and the shim. */
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_dev.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "shim.h"
