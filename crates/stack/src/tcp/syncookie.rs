//! SYN cookies (RFC 4987 §3.6): answer a SYN without keeping state when a listener's SYN queue
//! is full (or always), so a spoofed SYN flood cannot deny service to real clients.
//!
//! Our SYN,ACK's initial sequence number *is* the state. The 32-bit cookie is
//!
//! ```text
//! cookie = MAC[24 bits] << 8 | (data ^ MASK)[8 bits]
//! data   = mss index (2 bits) | peer window shift + 1, 0 = none (4 bits) | SACK-permitted (1) | 0
//! MAC    = SipHash(key; local, remote, peer ISN, time slot, data)   (top 24 bits)
//! MASK   = SipHash(key; local, remote, peer ISN, time slot)         (low 8 bits)
//! ```
//!
//! with a 64-second time slot. The final ACK of the handshake (SEG.ACK = cookie + 1, SEG.SEQ =
//! peer ISN + 1) is valid if the MAC matches for the current or the previous slot, so a cookie
//! lives 64 to 128 seconds. The MSS is rounded down to a small table (as Linux and FreeBSD do);
//! without timestamps, window scale and SACK-permitted ride in the spare bits of the data byte
//! (FreeBSD does the same), so cookie connections lose nothing but the RTT sample of the
//! handshake and any data the peer sent on its SYN (never accepted before ESTABLISHED anyway).
//!
//! A blind attacker must guess 24 MAC bits per ACK, and cookies are only checked when the
//! listener sent some in the last two slots (or in `Always` mode), like Linux.

use core::hash::{BuildHasher, Hasher};
use core::net::SocketAddrV4;

use smoltcp::wire::{TcpControl, TcpRepr};

use super::conn::{Conn, Env};
use super::event::TcpEvent;
use super::hash::KeyedSip;
use super::input::Segment;
use super::seq::Seq;
use super::{output, ListenerHandle, Tcp, TcpState, TcpTransmit};
use crate::time::{Duration, Instant};

/// When a listener answers SYNs with cookies instead of SYN-RECEIVED state (RFC 4987 §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynCookies {
    /// Never: a full SYN queue drops new SYNs (`drop_syn_queue_full`).
    Off,
    /// Only when the listener's SYN queue is full (the Linux default, `tcp_syncookies = 1`).
    #[default]
    WhenFull,
    /// For every SYN: listeners keep no state for half-open connections.
    Always,
}

/// Length of a cookie's time slot, nanoseconds (64 s, as Linux).
const SLOT_NANOS: u64 = 64_000_000_000;

/// MSS values a cookie can carry (RFC 4987 §3.6: "a few bits encode one of a small set of
/// MSS values"); the peer's MSS is rounded down to one of them. 536 is the RFC 9293 §3.7.1
/// default every host must accept.
pub(crate) const MSS_TABLE: [u16; 4] = [536, 1220, 1440, 1460];

/// What a cookie remembers of the peer's SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CookieData {
    /// Index into [`MSS_TABLE`].
    pub mss_index: u8,
    /// The peer's window scale option (RFC 7323 §2.2), capped at 14.
    pub wscale: Option<u8>,
    /// The peer's SYN carried SACK-permitted (RFC 2018 §2).
    pub sack_permitted: bool,
}

impl CookieData {
    /// From the options of a SYN.
    pub fn from_syn(mss: Option<u16>, wscale: Option<u8>, sack_permitted: bool) -> Self {
        let mss = mss.unwrap_or(super::options::DEFAULT_MSS);
        let mss_index = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u8;
        CookieData {
            mss_index,
            wscale: wscale.map(|w| w.min(super::options::MAX_WINDOW_SCALE)),
            sack_permitted,
        }
    }

    /// The MSS this cookie stands for.
    pub fn mss(self) -> u16 {
        MSS_TABLE[usize::from(self.mss_index & 3)]
    }

    fn to_byte(self) -> u8 {
        let w = self.wscale.map_or(0, |w| w + 1); // 1..=15
        (self.mss_index & 3) | (w << 2) | (u8::from(self.sack_permitted) << 6)
    }

    fn from_byte(b: u8) -> Option<Self> {
        if b & 0x80 != 0 {
            return None;
        }
        let w = (b >> 2) & 0xf;
        Some(CookieData {
            mss_index: b & 3,
            wscale: (w > 0).then(|| w - 1),
            sack_permitted: b & 0x40 != 0,
        })
    }
}

/// The keyed cookie function.
#[derive(Debug, Clone)]
pub(crate) struct CookieKey {
    sip: KeyedSip,
}

impl CookieKey {
    /// A key derived from the stack seed (distinct from the ISN and table keys): same seed,
    /// same cookies, so simulations stay deterministic.
    pub fn new(seed: u64) -> Self {
        // One splitmix64 step so the key is unrelated to the other seed-derived keys.
        let mut z = (seed ^ 0x5359_4e43_4f4f_4b49).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        CookieKey {
            sip: KeyedSip::new(z ^ (z >> 31)),
        }
    }

    fn slot(now: Instant) -> u32 {
        (now.as_nanos() / SLOT_NANOS) as u32
    }

    fn hash(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: Seq,
        slot: u32,
        data: Option<u8>,
    ) -> u64 {
        let mut h = self.sip.build_hasher();
        h.write(&local.ip().octets());
        h.write(&local.port().to_be_bytes());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        h.write(&irs.0.to_be_bytes());
        h.write(&slot.to_be_bytes());
        // Domain separation between the mask and the MAC.
        match data {
            None => h.write(&[0]),
            Some(d) => h.write(&[1, d]),
        }
        h.finish()
    }

    fn make(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: Seq,
        slot: u32,
        data: u8,
    ) -> Seq {
        let mask = self.hash(local, remote, irs, slot, None) as u8;
        let mac = (self.hash(local, remote, irs, slot, Some(data)) >> 40) as u32;
        Seq(mac << 8 | u32::from(data ^ mask))
    }

    /// The cookie (our ISN) answering a SYN with sequence number `irs` at `now`.
    pub fn encode(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: Seq,
        data: CookieData,
    ) -> Seq {
        self.make(local, remote, irs, Self::slot(now), data.to_byte())
    }

    /// Check `cookie` (SEG.ACK - 1 of the final ACK) for a SYN with sequence number `irs`
    /// (SEG.SEQ - 1): valid if made in the current or the previous time slot.
    pub fn decode(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: Seq,
        cookie: Seq,
    ) -> Option<CookieData> {
        let slot = Self::slot(now);
        for s in [slot, slot.wrapping_sub(1)] {
            let mask = self.hash(local, remote, irs, s, None) as u8;
            let data = cookie.0 as u8 ^ mask;
            if self.make(local, remote, irs, s, data) == cookie {
                return CookieData::from_byte(data);
            }
        }
        None
    }
}

/// A SYN,ACK carrying a cookie, waiting for `poll_transmit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingSynAck {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    cookie: Seq,
    irs: Seq,
    data: CookieData,
}

impl Tcp {
    /// Whether a SYN that found the SYN queue full (or any SYN, in `Always` mode) gets a cookie.
    pub(super) fn use_cookie(&self, syn_full: bool) -> bool {
        match self.config.syncookies {
            SynCookies::Off => false,
            SynCookies::WhenFull => syn_full,
            SynCookies::Always => true,
        }
    }

    /// RFC 4987 §3.6: answer a SYN with a stateless SYN,ACK whose ISN is a cookie.
    pub(super) fn send_cookie(
        &mut self,
        now: Instant,
        l: ListenerHandle,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) {
        if self.synacks.len() >= self.config.max_pending_syncookies {
            self.counters.drop_syncookie_queue_full += 1;
            return;
        }
        let data = CookieData::from_syn(seg.mss, seg.wscale, seg.sack_permitted);
        let cookie = self.cookie_key.encode(now, local, remote, seg.seq, data);
        if let Some(lst) = self.listeners.get_mut(&l) {
            lst.cookie_sent = Some(now);
        }
        self.counters.syncookies_sent += 1;
        self.events.emit(now, || TcpEvent::SynCookieSent {
            listener: l,
            remote,
        });
        self.synacks.push_back(PendingSynAck {
            local,
            remote,
            cookie,
            irs: seg.seq,
            data,
        });
    }

    /// Whether an ACK arriving at listener `l` may be a cookie: in `Always` mode, or when the
    /// listener sent cookies during the last two slots (no cookie can be valid otherwise, and
    /// not checking spares guessing attempts).
    pub(super) fn cookie_check_enabled(&self, now: Instant, l: ListenerHandle) -> bool {
        match self.config.syncookies {
            SynCookies::Off => false,
            SynCookies::Always => true,
            SynCookies::WhenFull => self
                .listeners
                .get(&l)
                .and_then(|x| x.cookie_sent)
                .is_some_and(|t| {
                    now.saturating_duration_since(t) < Duration::from_nanos(2 * SLOT_NANOS)
                }),
        }
    }

    /// RFC 4987 §3.6: the final ACK of a cookie handshake. Returns false if `seg` carries no
    /// valid cookie (the caller answers with a RST, RFC 9293 §3.10.7.2); true if it was
    /// consumed (connection created, or dropped for lack of room).
    pub(super) fn accept_cookie(
        &mut self,
        now: Instant,
        l: ListenerHandle,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) -> bool {
        let Some(ack) = seg.ack else { return false };
        if seg.syn || seg.rst {
            return false;
        }
        let irs = seg.seq - 1;
        let iss = ack - 1;
        let Some(data) = self.cookie_key.decode(now, local, remote, irs, iss) else {
            self.counters.syncookies_invalid += 1;
            self.events.emit(now, || TcpEvent::SynCookieInvalid {
                listener: l,
                remote,
            });
            return false;
        };
        let Some(lst) = self.listeners.get(&l) else {
            return false;
        };
        // Room: the peer believes it is connected and will retransmit (data or FIN), so a
        // drop here is recoverable, as for a SYN-RECEIVED connection (see input.rs).
        if lst.accept.len() >= lst.backlog {
            self.counters.drop_accept_queue_full += 1;
            return true;
        }
        if self.conns.len() >= self.config.max_connections {
            self.counters.drop_too_many_connections += 1;
            return true;
        }
        let Some(h) = self.alloc_handle() else {
            return true;
        };
        self.counters.syncookies_valid += 1;
        self.events.emit(now, || TcpEvent::SynCookieValid {
            listener: l,
            remote,
            conn: h,
        });
        // Rebuild the SYN-RECEIVED block the cookie stands for: the peer's SYN (its options
        // from the cookie) and our SYN,ACK (ISS = cookie, one sequence number sent).
        let mut c = Conn::new(
            &self.config,
            h,
            local,
            remote,
            iss,
            self.mss,
            TcpState::Listen,
        );
        c.ts_offset = self.isn.ts_offset(local, remote);
        if let Some(mtu) = self.pmtu.get(*remote.ip(), now) {
            c.pmtu = c.pmtu.min(mtu); // RFC 1191 §6.3: what earlier connections learned
        }
        c.listener = Some(l);
        let syn = Segment {
            seq: irs,
            ack: None,
            syn: true,
            fin: false,
            rst: false,
            window: seg.window,
            mss: Some(data.mss()),
            wscale: data.wscale,
            sack_permitted: data.sack_permitted,
            sack: [None; 3],
            // The cookie SYN,ACK offered no timestamps (RFC 7323 §3.2: then none are used).
            tsval: None,
            tsecr: None,
            payload: &[],
        };
        let mut env = Env {
            now,
            cfg: &self.config,
            counters: &mut self.counters,
            events: &mut self.events,
        };
        c.take_syn_options(&env, &syn);
        c.snd_nxt = iss + 1;
        c.snd_max = iss + 1;
        c.snd_wl1 = irs;
        c.snd_wl2 = iss;
        c.set_state(&mut env, TcpState::SynReceived);
        env.counters.passive_opens += 1;
        // Then the ACK itself, as for any SYN-RECEIVED connection (RFC 9293 §3.10.7.4):
        // ESTABLISHED, plus any text or FIN it carries.
        c.on_segment(&mut env, seg);
        if let Some(lst) = self.listeners.get_mut(&l) {
            // `after` moves it from the SYN count to the accept queue.
            lst.syn_count += 1;
        }
        self.by_tuple.insert((local, remote), h);
        self.conns.insert(h, c);
        self.mark_ready(h);
        self.after(h);
        true
    }

    /// Write the next pending cookie SYN,ACK, if any.
    pub(super) fn poll_synack(&mut self, out: &mut [u8]) -> Option<TcpTransmit> {
        while let Some(p) = self.synacks.pop_front() {
            let window = self.config.recv_buffer.min(u16::MAX as usize) as u16;
            let repr = TcpRepr {
                src_port: p.local.port(),
                dst_port: p.remote.port(),
                control: TcpControl::Syn,
                seq_number: p.cookie.to_wire(),
                ack_number: Some((p.irs + 1).to_wire()),
                window_len: window,
                // RFC 7323 §1.3: only if the peer's SYN carried it.
                window_scale: p.data.wscale.map(|_| {
                    self.config
                        .window_scale
                        .min(super::options::MAX_WINDOW_SCALE)
                }),
                max_seg_size: Some(self.mss),
                // RFC 2018 §2: only if the peer offered it.
                sack_permitted: self.config.sack && p.data.sack_permitted,
                sack_ranges: [None; 3],
                timestamp: None,
                payload: &[],
            };
            if let Some(len) = output::emit(out, &repr, *p.local.ip(), *p.remote.ip(), None) {
                self.counters.segments_out += 1;
                return Some(TcpTransmit {
                    src: *p.local.ip(),
                    dst: *p.remote.ip(),
                    len,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn a(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), p)
    }
    fn b(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), p)
    }

    const DATA: CookieData = CookieData {
        mss_index: 3,
        wscale: Some(7),
        sack_permitted: true,
    };

    /// RFC 4987 §3.6: a cookie is valid in its own slot and the next one, then expires.
    #[test]
    fn rfc4987_3_6_cookie_valid_for_two_slots() {
        let k = CookieKey::new(1);
        let t = Instant::from_secs(640); // start of slot 10
        let irs = Seq(123_456);
        let c = k.encode(t, a(80), b(40000), irs, DATA);
        assert_eq!(k.decode(t, a(80), b(40000), irs, c), Some(DATA));
        let late = Instant::from_secs(640 + 63);
        assert_eq!(k.decode(late, a(80), b(40000), irs, c), Some(DATA));
        let prev = Instant::from_secs(640 + 64 + 63);
        assert_eq!(k.decode(prev, a(80), b(40000), irs, c), Some(DATA));
        let gone = Instant::from_secs(640 + 128);
        assert_eq!(k.decode(gone, a(80), b(40000), irs, c), None);
        // And never before it was made.
        let early = Instant::from_secs(639);
        assert_eq!(k.decode(early, a(80), b(40000), irs, c), None);
    }

    /// RFC 4987 §3.6: the cookie binds the 4-tuple, the peer's ISN and the secret.
    #[test]
    fn rfc4987_3_6_cookie_binds_tuple_isn_and_key() {
        let k = CookieKey::new(1);
        let t = Instant::from_secs(5);
        let irs = Seq(7);
        let c = k.encode(t, a(80), b(40000), irs, DATA);
        assert_eq!(c, CookieKey::new(1).encode(t, a(80), b(40000), irs, DATA));
        assert_eq!(k.decode(t, a(81), b(40000), irs, c), None);
        assert_eq!(k.decode(t, a(80), b(40001), irs, c), None);
        let other = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 3), 40000);
        assert_eq!(k.decode(t, a(80), other, irs, c), None);
        assert_eq!(k.decode(t, a(80), b(40000), Seq(8), c), None);
        assert_eq!(CookieKey::new(2).decode(t, a(80), b(40000), irs, c), None);
    }

    /// Flipping any single bit of a cookie invalidates it (including the data bits).
    #[test]
    fn rfc4987_3_6_any_flipped_bit_is_invalid() {
        let k = CookieKey::new(9);
        let t = Instant::from_secs(1000);
        let irs = Seq(0xdead_beef);
        let c = k.encode(t, a(80), b(40000), irs, DATA);
        for bit in 0..32 {
            let bad = Seq(c.0 ^ (1 << bit));
            assert_eq!(k.decode(t, a(80), b(40000), irs, bad), None, "bit {bit}");
        }
    }

    /// The MSS is rounded down to the table; every table entry and option combination
    /// round-trips through a cookie.
    #[test]
    fn rfc4987_3_6_mss_table_and_options_round_trip() {
        assert_eq!(CookieData::from_syn(None, None, false).mss(), 536);
        assert_eq!(CookieData::from_syn(Some(100), None, false).mss(), 536);
        assert_eq!(CookieData::from_syn(Some(1219), None, false).mss(), 536);
        assert_eq!(CookieData::from_syn(Some(1220), None, false).mss(), 1220);
        assert_eq!(CookieData::from_syn(Some(1452), None, false).mss(), 1440);
        assert_eq!(CookieData::from_syn(Some(9000), None, false).mss(), 1460);
        assert_eq!(CookieData::from_syn(None, Some(20), false).wscale, Some(14));
        let k = CookieKey::new(3);
        let t = Instant::from_secs(77);
        for (i, &mss) in MSS_TABLE.iter().enumerate() {
            for wscale in [None, Some(0), Some(7), Some(14)] {
                for sack in [false, true] {
                    let d = CookieData::from_syn(Some(mss), wscale, sack);
                    assert_eq!(d.mss_index as usize, i);
                    let c = k.encode(t, a(80), b(1234), Seq(99), d);
                    assert_eq!(k.decode(t, a(80), b(1234), Seq(99), c), Some(d));
                }
            }
        }
    }

    /// Random values are (almost) never valid cookies: the MAC has 24 bits.
    #[test]
    fn random_acks_are_rejected() {
        let k = CookieKey::new(5);
        let t = Instant::from_secs(10);
        let mut x = 0x1234_5678_u32;
        let mut valid = 0;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            valid += k.decode(t, a(80), b(1), Seq(1), Seq(x)).is_some() as u32;
        }
        assert!(valid <= 1, "{valid}");
    }
}
