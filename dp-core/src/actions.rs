//! Datapath (ODP) actions: the action set of OVS's kernel and userspace
//! datapaths (`OVS_ACTION_ATTR_*` in `datapath/linux/compat/include/linux/openvswitch.h`,
//! text forms in `lib/odp-util.c`), and the trait through which stateful
//! actions reach the crates that implement them.
//!
//! Stateless actions (set, push/pop, hash, clone, sample, check_pkt_len, trunc,
//! dec_ttl, push/pop_eth, push/pop_nsh) are executed in [`crate::execute`]. Output, upcalls,
//! recirculation, conntrack, tunnels and meters are delegated to an
//! [`ActionContext`] that the datapath (`pmd` crate) implements.
//!
//! Integer fields are host order; IPv4 addresses are `u32` (`10.0.0.1` =
//! `0x0a000001`), IPv6 addresses `u128`, MACs 6 bytes in wire order.

use crate::packet::PacketBatch;

/// Datapath port number (OVS `odp_port_t`).
pub type OdpPort = u32;

/// A settable group of fields, one per ODP key attribute (`set(...)` /
/// masked `set(...)` in text). In [`OdpAction::SetMasked`] the value and the
/// mask are the same variant; bits outside the mask are left unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SetAttr {
    /// `skb_priority(N)`.
    Priority(u32),
    /// `skb_mark(N)` (packet mark).
    SkbMark(u32),
    /// `tunnel(...)`: tunnel metadata for a subsequent output to a tunnel port
    /// (only unmasked `set` is valid, as in OVS).
    Tunnel(Box<crate::packet::TunnelMetadata>),
    /// `eth(src=,dst=)`.
    Eth {
        /// Source MAC.
        src: [u8; 6],
        /// Destination MAC.
        dst: [u8; 6],
    },
    /// `ipv4(src=,dst=,tos=,ttl=)` (proto and frag are not settable).
    Ipv4 {
        /// Source address.
        src: u32,
        /// Destination address.
        dst: u32,
        /// TOS byte (DSCP << 2 | ECN).
        tos: u8,
        /// TTL.
        ttl: u8,
    },
    /// `ipv6(src=,dst=,label=,tclass=,hlimit=)`.
    Ipv6 {
        /// Source address.
        src: u128,
        /// Destination address.
        dst: u128,
        /// Flow label (20 bits).
        label: u32,
        /// Traffic class.
        tclass: u8,
        /// Hop limit.
        hlimit: u8,
    },
    /// `tcp(src=,dst=)`.
    Tcp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// `udp(src=,dst=)`.
    Udp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// `sctp(src=,dst=)`.
    Sctp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// `arp(sip=,tip=,op=,sha=,tha=)`.
    Arp {
        /// Sender protocol address.
        sip: u32,
        /// Target protocol address.
        tip: u32,
        /// Opcode.
        op: u16,
        /// Sender hardware address.
        sha: [u8; 6],
        /// Target hardware address.
        tha: [u8; 6],
    },
    /// `nd(target=,sll=,tll=)` (ICMPv6 neighbour discovery).
    Nd {
        /// Target address.
        target: u128,
        /// Source link-layer address option.
        sll: [u8; 6],
        /// Target link-layer address option.
        tll: [u8; 6],
    },
    /// `mpls(label=,tc=,ttl=,bos=)`: the top label stack entry as a raw 32-bit
    /// LSE (RFC 3032 section 2.1).
    Mpls {
        /// Label stack entry.
        lse: u32,
    },
    /// `nsh(flags=,ttl=,mdtype=,np=,spi=,si=,c1=..c4=)`: the NSH header at
    /// `l3_ofs` (RFC 8300); only flags, TTL, path header and MD type 1
    /// context are written (OVS `odp_set_nsh()`).
    Nsh(crate::nsh::NshKey),
}

/// Which NAT to apply (`nat(src=...)` / `nat(dst=...)`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NatKind {
    /// Source NAT.
    Src,
    /// Destination NAT.
    Dst,
}

/// The `nat` argument of the `ct` action (OVS `ovs-actions(7)`, "The ct action").
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct NatAction {
    /// `None`: bare `nat` (apply the connection's existing NAT, if any).
    pub kind: Option<NatKind>,
    /// Address range, inclusive (`IP[-IP]`); `None` if not given.
    pub addr: Option<(std::net::IpAddr, std::net::IpAddr)>,
    /// Port range, inclusive (`:PORT[-PORT]`); `None` if not given.
    pub ports: Option<(u16, u16)>,
    /// `persistent` flag.
    pub persistent: bool,
    /// `hash` flag (pick with a hash of the tuple).
    pub hash: bool,
    /// `random` flag (pick randomly).
    pub random: bool,
}

/// The datapath `ct` action (OVS `OVS_ACTION_ATTR_CT`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CtAction {
    /// `commit`: create the connection entry if new.
    pub commit: bool,
    /// `force`: with commit, end an existing connection in the opposite direction first.
    pub force: bool,
    /// Zone (0 if not given).
    pub zone: u16,
    /// `mark=V/M`: set ct_mark on commit.
    pub mark: Option<(u32, u32)>,
    /// `label=V/M`: set ct_label on commit.
    pub label: Option<(u128, u128)>,
    /// `helper=ftp|tftp`: the ALG.
    pub helper: Option<String>,
    /// `timeout=NAME`: timeout policy name.
    pub timeout: Option<String>,
    /// `nat(...)`.
    pub nat: Option<NatAction>,
}

/// Hash algorithm of the `hash` action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HashAlg {
    /// `l4(basis)`: hash of the 5-tuple (OVS `OVS_HASH_ALG_L4`).
    L4,
    /// `sym_l4(basis)`: symmetric 5-tuple hash (OVS `OVS_HASH_ALG_SYM_L4`).
    SymL4,
}

/// The `userspace` action: send a copy of the packet up to the switch layer.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UserspaceAction {
    /// Netlink pid (userspace datapath: the handler id; OVS prints it).
    pub pid: u32,
    /// Opaque cookie passed back with the upcall (OVS `user_action_cookie`).
    pub userdata: Option<Vec<u8>>,
    /// `actions`: include the executing action list in the upcall.
    pub actions: bool,
    /// `tunnel_out_port=N`.
    pub tunnel_out_port: Option<OdpPort>,
}

/// Tunnel encapsulation header for `tnl_push` (OVS `struct ovs_action_push_tnl`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TnlPush {
    /// Tunnel port the packet is sent through (`tnl_port(N)`).
    pub tnl_port: OdpPort,
    /// Port the encapsulated packet leaves on (`out_port(N)`).
    pub out_port: OdpPort,
    /// Tunnel type, OVS `enum ovs_vport_type` numbering (GRE=3, VXLAN=4,
    /// GENEVE=5, ...) as printed in `header(size=..,type=N,...)`.
    pub tnl_type: u32,
    /// The complete outer header bytes (Ethernet + IP + UDP/GRE + tunnel
    /// header), lengths and checksums to be completed per packet.
    pub header: Vec<u8>,
}

/// One datapath action. Text forms are OVS's (`ovs-dpctl(8)`, `lib/odp-util.c`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OdpAction {
    /// `N`: transmit on datapath port N.
    Output(OdpPort),
    /// `drop`: explicit drop (an empty action list prints as `drop` too).
    Drop,
    /// `userspace(pid=..,...)`.
    Userspace(UserspaceAction),
    /// `set(attr(...))` with every field of the attribute.
    Set(SetAttr),
    /// Masked set: `set(attr(field=value/mask,...))`.
    SetMasked {
        /// New values.
        value: SetAttr,
        /// Which bits to change (same variant as `value`).
        mask: SetAttr,
    },
    /// `push_vlan(tpid=0x8100,vid=N,pcp=N)`.
    PushVlan {
        /// TPID (0x8100 or 0x88a8).
        tpid: u16,
        /// TCI (PCP, DEI, VID) as it goes on the wire (without OVS's CFI-present meaning).
        tci: u16,
    },
    /// `pop_vlan`.
    PopVlan,
    /// `push_mpls(label=,tc=,ttl=,bos=,eth_type=)`.
    PushMpls {
        /// Label stack entry to push (RFC 3032).
        lse: u32,
        /// New Ethertype (0x8847 unicast, 0x8848 multicast).
        ethertype: u16,
    },
    /// `pop_mpls(eth_type=0x800)`.
    PopMpls {
        /// Ethertype of the payload after the pop.
        ethertype: u16,
    },
    /// `recirc(0xN)`: re-run the packet through the datapath with this recirc_id.
    Recirc(u32),
    /// `hash(l4(basis))`: compute dp_hash.
    Hash {
        /// Algorithm.
        alg: HashAlg,
        /// Hash basis.
        basis: u32,
    },
    /// `ct(...)`: run connection tracking (delegated).
    Ct(CtAction),
    /// `ct_clear`: clear conntrack metadata.
    CtClear,
    /// `tnl_push(...)`: encapsulate (delegated).
    TnlPush(TnlPush),
    /// `tnl_pop(N)`: decapsulate via tunnel port N (delegated).
    TnlPop(OdpPort),
    /// `meter(N)`: police through meter N (delegated).
    Meter(u32),
    /// `clone(...)`: run actions on a copy; the original continues unchanged.
    Clone(Vec<OdpAction>),
    /// `sample(sample=P%,actions(...))`: with probability `probability /
    /// u32::MAX`, run actions on a copy.
    Sample {
        /// Probability scaled to `u32::MAX` = 100%.
        probability: u32,
        /// Actions to run on the sampled copy.
        actions: Vec<OdpAction>,
    },
    /// `check_pkt_len(size=N,gt(...),le(...))`.
    CheckPktLen {
        /// Length threshold in bytes (frame length compared).
        pkt_len: u16,
        /// Actions when the frame is longer than `pkt_len`.
        gt: Vec<OdpAction>,
        /// Actions when the frame is at most `pkt_len`.
        le: Vec<OdpAction>,
    },
    /// `trunc(N)`: truncate to N bytes for the following output.
    Trunc(u32),
    /// `push_eth(src=,dst=)`: add an Ethernet header to an L3 packet.
    PushEth {
        /// Source MAC.
        src: [u8; 6],
        /// Destination MAC.
        dst: [u8; 6],
    },
    /// `pop_eth`: strip the Ethernet header (packet becomes L3).
    PopEth,
    /// `push_nsh(flags=,ttl=,mdtype=,np=,spi=,si=,c1=..|md2=)`: put an NSH
    /// header (RFC 8300) in front of the packet; the packet type becomes
    /// NSH (OVS `OVS_ACTION_ATTR_PUSH_NSH`).
    PushNsh(crate::nsh::NshPush),
    /// `pop_nsh()`: remove the NSH header; the packet type becomes its next
    /// protocol, packets with an unknown one are dropped.
    PopNsh,
    /// `dec_ttl(le_1(...))`: decrement IP TTL / hop limit; packets whose TTL
    /// is <= 1 run the nested actions instead and leave the main list.
    DecTtl(Vec<OdpAction>),
}

/// Environment for stateful actions: implemented by the datapath (`pmd`
/// crate), which routes them to ports, the switch layer (upcalls), conntrack,
/// tunnels and meters. Every method receives ownership of the packets it acts
/// on; [`crate::execute`] hands over a deep copy when the action is not the
/// last one.
pub trait ActionContext {
    /// Transmits `batch` on datapath port `port`.
    fn output(&mut self, port: OdpPort, batch: PacketBatch);

    /// Sends `batch` up to the switch layer as `userspace` upcalls.
    fn userspace(&mut self, action: &UserspaceAction, batch: PacketBatch);

    /// Feeds `batch` back into the datapath; `md.recirc_id` is already set.
    fn recirc(&mut self, batch: PacketBatch);

    /// Runs connection tracking on every packet, updating `md.ct_*` (and the
    /// frame, for NAT). Packets may be removed (e.g. fragments held for
    /// reassembly). The default marks packets tracked+invalid, as a datapath
    /// without conntrack would.
    fn ct(&mut self, action: &CtAction, batch: &mut PacketBatch) {
        let _ = action;
        for p in batch.pkts.iter_mut() {
            p.md.ct_state = crate::flow::ct_state::TRACKED | crate::flow::ct_state::INVALID;
            p.md.ct_zone = action.zone;
        }
    }

    /// Encapsulates every packet with `push.header` (lengths, checksums and
    /// source ports completed per packet), then the packets continue with the
    /// next action. Packets that cannot be encapsulated are removed. The
    /// default drops them all (no tunnel support).
    fn tnl_push(&mut self, push: &TnlPush, batch: &mut PacketBatch) {
        let _ = push;
        batch.pkts.clear();
    }

    /// Decapsulates every packet in place via tunnel port `port`: strips the
    /// outer headers, fills `md.tunnel` and sets `md.in_port = port`; packets
    /// that are not valid tunnel packets are removed. The executor then
    /// recirculates the batch (OVS `netdev_pop_header` + recirculation). The
    /// default removes them all (no tunnel support).
    fn tnl_pop(&mut self, port: OdpPort, batch: &mut PacketBatch) {
        let _ = port;
        batch.pkts.clear();
    }

    /// Applies meter `meter_id` to `batch`, removing packets that exceed it.
    /// `now_ns` is a monotonic time in nanoseconds. The default passes all.
    fn meter(&mut self, meter_id: u32, now_ns: u64, batch: &mut PacketBatch) {
        let _ = (meter_id, now_ns, batch);
    }

    /// A uniformly random 32-bit value (for `sample`).
    fn random_u32(&mut self) -> u32;

    /// Monotonic time in nanoseconds (for meters).
    fn now_ns(&self) -> u64;
}
