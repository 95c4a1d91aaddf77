//! Finding pods' veths: a veth in this network namespace whose peer lives in another one
//! (rtnetlink tells by the peer's namespace id). A watcher wakes the agent whenever a link
//! appears, changes or vanishes.

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// The host side of a pod's veth.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodLink {
    pub name: String,
    pub index: u32,
}

/// Every pod veth now, in name order. `pattern` (a glob) narrows them by name.
pub fn pod_veths(pattern: Option<&str>) -> io::Result<Vec<PodLink>> {
    let mut out: Vec<PodLink> = dump_links()?
        .into_iter()
        .filter_map(|m| pod_link(&m))
        .filter(|l| pattern.is_none_or(|p| crate::theme::contexts::glob(p, &l.name)))
        .collect();
    out.sort();
    Ok(out)
}

fn pod_link(m: &LinkMessage) -> Option<PodLink> {
    let mut name = None;
    let mut veth = false;
    let mut peer_elsewhere = false;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::LinkNetNsId(_) => peer_elsewhere = true,
            LinkAttribute::LinkInfo(infos) => {
                veth |= infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
            }
            _ => {}
        }
    }
    (veth && peer_elsewhere).then(|| PodLink {
        name: name.unwrap_or_default(),
        index: m.header.index,
    })
}

fn dump_links() -> io::Result<Vec<LinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut packet = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::from(RouteNetlinkMessage::GetLink(LinkMessage::default())),
    );
    packet.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    packet.header.sequence_number = 1;
    packet.finalize();
    let mut buf = vec![0; packet.header.length as usize];
    packet.serialize(&mut buf[..]);
    socket.send(&buf[..], 0)?;

    let mut links = Vec::new();
    let mut rx = vec![0u8; 1 << 16];
    loop {
        let size = socket.recv(&mut &mut rx[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let msg: NetlinkMessage<RouteNetlinkMessage> =
                NetlinkMessage::deserialize(&rx[offset..size])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(links),
                NetlinkPayload::Error(e) => {
                    return Err(io::Error::other(format!("netlink link dump: {e:?}")))
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => links.push(l),
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

/// Calls `notify` whenever a link is added, changed or removed, until it returns false.
/// Runs on a thread of its own (the netlink socket blocks).
pub fn watch(
    notify: impl Fn() -> bool + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind(&SocketAddr::new(0, 0))?;
    socket.add_membership(libc::RTNLGRP_LINK)?;
    let handle = std::thread::Builder::new()
        .name("link-watch".into())
        .spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match socket.recv(&mut &mut buf[..], 0) {
                    Ok(_) => {
                        if !notify() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(handle)
}
