//! From command-line options to a running runtime: the stack's configuration, the link
//! (TAP, AF_PACKET, optionally impaired and captured to pcap), and the event loop.

use std::net::Ipv4Addr;
use std::path::Path;

use tcplab_link::Link;
use tcplab_stack::{Config, EthernetAddress, Stack};

use crate::cli::LinkOpts;
use crate::error::AppError;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::trace::Sink;

/// The locally administered MAC we use when none is given: 02:00 followed by the IPv4 address,
/// so each lab address has a stable, recognisable MAC (IEEE 802 "U/L" bit set).
pub fn derived_mac(addr: Ipv4Addr) -> EthernetAddress {
    let o = addr.octets();
    EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
}

/// The stack configuration the options describe.
pub fn stack_config(opts: &LinkOpts) -> Result<Config, AppError> {
    let cidr = opts
        .addr
        .ok_or_else(|| AppError::Usage("--addr A.B.C.D/P is required with --tap/--iface".into()))?;
    let mac = opts.mac.unwrap_or_else(|| derived_mac(cidr.addr));
    let mut config = Config::new(mac, cidr.addr, cidr.prefix);
    config.gateway = opts.gw;
    config.mtu = usize::from(opts.mtu);
    config.seed = opts.seed;
    Ok(config)
}

/// Parse an impairment spec (`loss=1%,delay=20ms`). The seed comes from `--seed` unless the
/// spec names one.
pub fn impair_config(spec: &str, seed: u64) -> Result<ImpairSpec, AppError> {
    Err(AppError::Usage(format!(
        "--impair {spec} (seed {seed}): impairment is not available in this build yet"
    )))
}

/// Impairment parameters (the link crate's, once available).
#[derive(Debug, Clone)]
pub struct ImpairSpec {
    /// The spec string.
    pub spec: String,
    /// The seed.
    pub seed: u64,
}

/// Whether this build can write pcap files (the link crate's writer is being merged).
pub const PCAP_SUPPORTED: bool = false;

/// Wrap `link` with impairment and a pcap writer as asked.
pub fn wrap_link(
    link: Box<dyn Link>,
    impair: Option<ImpairSpec>,
    pcap: Option<&Path>,
) -> Result<Box<dyn Link>, AppError> {
    if impair.is_some() || pcap.is_some() {
        return Err(AppError::Usage(
            "impairment and pcap capture are not available in this build yet".into(),
        ));
    }
    Ok(link)
}

/// Open the link the options name.
pub fn open_link(opts: &LinkOpts) -> Result<Box<dyn Link>, AppError> {
    match (&opts.tap, &opts.iface) {
        (None, None) => Err(AppError::Usage(
            "no link given: use --tap NAME or --iface NAME".into(),
        )),
        _ => Err(AppError::Usage(
            "TAP and AF_PACKET links are not available in this build yet".into(),
        )),
    }
}

/// Validate the options, open the link and start a runtime named `name`.
pub fn start(opts: &LinkOpts, name: &str) -> Result<Runtime, AppError> {
    if opts.tap.is_none() && opts.iface.is_none() {
        return Err(AppError::Usage(
            "no link given: use --tap NAME or --iface NAME".into(),
        ));
    }
    let config = stack_config(opts)?;
    let link = open_link(opts)?;
    let stack = Stack::new(config)?;
    let rt_opts = RuntimeOptions {
        name: name.to_string(),
        trace: opts.trace.then_some(Sink::Stderr),
        ..RuntimeOptions::default()
    };
    Runtime::start(stack, link, rt_opts).map_err(|e| AppError::io("start the event loop", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_mac_is_locally_administered_unicast() {
        let mac = derived_mac(Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(mac, EthernetAddress([0x02, 0x00, 198, 18, 0, 2]));
        assert!(mac.is_unicast() && mac.is_local());
    }
}
